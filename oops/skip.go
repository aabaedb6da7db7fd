package oops

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Generic frames: functions that appear in many unrelated stacks and never
// say where a bug is; the guilty frame is the first function that is none
// of these. Each pattern matches anywhere in the name (spin_lock matches
// _raw_spin_lock_irqsave) unless anchored: the families are the report
// machinery itself (sanitizers, WARN and BUG traps, stack dumping, printk),
// allocation and page-cache lookup, locking, atomics and bit operations,
// reference counts, list and tree helpers, string and copy helpers, timers
// and workqueues as seen from their users, and the driver core and USB
// core teardown paths that every driver goes through.
var skipFrameRE = lazy(strings.Join([]string{
	// the report's own machinery
	`__sanitizer`, `__asan`, `kasan`, `hwasan`, `__msan`, `kmsan`, `kcsan_setup_watchpoint`, `check_memory_region`,
	`check_heap_object`, `check_object`, `read_word_at_a_time`, `(?:read|write)_once_.*nocheck`,
	`print_address_description`, `panic`, `invalid_op`, `report_bug`, `fixup_bug`, `print_report`, `print_usage_bug`,
	`do_error`, `_trap$`, `do_trap`, `show_stack`, `dump_stack`, `walk_stack`, `dump_backtrace`, `warn_slowpath`,
	`warn_alloc`, `warn_bogus`, `__warn`, `print_unlock`, `imbalance_bug`, `print_tainted`, `__fortify_report`,
	`stack_trace_consume_entry`, `arch_stack_walk`, `stack_trace_save`, `assertfail`, `^get_taint$`,
	// allocation and page-cache lookup
	`alloc_page`, `k?v?(?:m|z|c)alloc`, `krealloc`, `kmem_cache`, `allocate_slab`, `__alloc_frozen_pages`,
	`folio_(?:alloc|unlock)`, `filemap_alloc_folio`, `__filemap_get_folio`, `find_or_create_page`,
	`do_read_cache_folio`, `read_cache_page`, `pagecache_get_page`, `grab_cache_page_write_begin`, `slab_`,
	`memdup`, `strdup`, `strndup`, `^kv?free$`, `kfree_skb`, `find_lock_entries`, `truncate_inode_pages_range`,
	`__phys_addr`, `xas_(?:start|load|find)`,
	// debug objects, lockdep, locks
	`debug_object`, `timer_is_static_object`, `work_is_static_object`, `__might_fault`, `might_fault`, `might_sleep`,
	`__might_resched`, `lockdep`, `bh_enable`, `bh_disable`, `perf_trace`, `lock_acquire`, `lock_release`,
	`lock_class`, `mark_lock`, `(?:reacquire|mark)_held_locks`, `raw_spin_rq`, `spin_lock`, `spin_trylock`,
	`spin_unlock`, `read_lock`, `read_trylock`, `write_lock`, `write_trylock`, `read_unlock`, `write_unlock`,
	`^down$`, `down_read`, `down_write`, `down_trylock`, `up_read`, `up_write`, `^mutex_`, `^__mutex_`,
	`^rt_mutex_`, `owner_on_cpu`, `osq_lock`, `osq_unlock`, `(?:trace|lockdep)_(?:hard|soft)irq`, `^(?:un)?lock_page`,
	`seqprop_assert`, `lock_timer_base`,
	// atomics, bits, reference counts
	`atomic(?:64)?_(?:dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)`, `(?:set|clear|change|test)_bit`,
	`__wake_up`, `^refcount_`, `^kref_`, `ref_tracker`, `^iput$`, `^iput_final$`, `^ihold$`, `fast_dput`, `dput`,
	`drop_nlink`, `^put_device$`, `^klist_`, `ida_free`,
	// strings, memory, copies, formatting
	`memcpy`, `memcmp`, `memset`, `memchr`, `memmove`, `strcmp`, `strncmp`, `strcpy`, `strlcpy`, `strncpy`,
	`strscpy`, `strlen`, `strstr`, `strnstr`, `strnlen`, `strchr`, `copy_to_user`, `copy_from_user`,
	`copy_to_iter`, `copy_from_iter`, `copy_page_to_iter`, `copy_page_from_iter`, `copy_folio_to_iter`,
	`^copyin$`, `^copyout$`, `put_user`, `get_user`, `extract_(?:user|iter)_to_sg`, `string`, `pointer`,
	`snprintf`, `scnprintf`, `kasprintf`, `kvasprintf`, `printk`, `va_format`, `hex_dump_to_buffer`,
	`print_hex_dump`, `^crc\d+`, `crc_itu_t`, `rhashtable_lookup`,
	// lists and trees
	`list_add`, `list_del`, `list_replace`, `list_move`, `list_splice`, `^rb_`, `^__rb_`,
	// device printing, MMIO
	`dev_info`, `dev_notice`, `dev_warn`, `dev_err`, `dev_alert`, `dev_crit`, `dev_emerg`, `readb$`, `readw$`,
	`readl$`, `readq$`, `writeb$`, `writew$`, `writel$`, `writeq$`, `logic_in`, `logic_out`,
	// timers, workqueues, completions, kthreads as their users see them
	`del_timer`, `__timer_delete_sync`, `sk_stop_timer_sync`, `__mod_timer`, `flush_work`, `__cancel_work_timer`,
	`cancel_work_sync`, `try_to_grab_pending`, `flush_workqueue`, `drain_workqueue`, `destroy_workqueue`,
	`queue_work`, `insert_work`, `__queue_delayed_work`, `queue_delayed_work_on`, `finish_wait`, `kthread_stop`,
	`^complete$`, `wait_for_completion`, `cleanup_srcu_struct`,
	// driver core and USB core teardown
	`kobject_`, `add_uevent_var`, `get_device_parent`, `device_add`, `device_del`, `device_unregister`,
	`device_destroy`, `device_release`, `devres_release_all`, `hwrng_unregister`, `i2c_del_adapter`,
	`__unregister_client`, `device_for_each_child`, `rollback_registered`, `unregister_netdev`, `sysfs_remove`,
	`device_remove_file`, `tty_unregister_device`, `dummy_urb_enqueue`, `usb_kill_urb`, `usb_kill_anchored_urbs`,
	`usb_control_msg`, `usb_hcd_submit_urb`, `usb_submit_urb`,
	// traps and retpolines of other architectures
	`_indirect_thunk_`, `program_check_exception`, `program_check_common`, `do_(?:kernel|translation)_fault`,
	`do_mem_abort`, `el1_abort`, `el1h_64_sync(?:_handler)?`,
}, "|"))

// skipFrame reports whether fn is a generic frame. Answers are cached:
// the same functions recur in every report, and the pattern is long.
func skipFrame(fn string) bool {
	if v, ok := skipCache.Load(fn); ok {
		return v.(bool)
	}
	skip := skipFrameRE.MatchString(fn)
	if skipCacheSize.Add(1) < 1<<16 { // bounded: names come from untrusted logs
		skipCache.Store(fn, skip)
	}
	return skip
}

var (
	skipCache     sync.Map
	skipCacheSize atomic.Int64
)

// stallAnchorRE matches the frames that bound "what the stuck task was
// doing": entry points (syscall entry, workqueue, timers, softirq, kthread)
// and dispatchers whose caller is the discriminating frame (ioctl,
// read/write, sendmsg, netlink).
var stallAnchorRE = lazy(`^(?:` + strings.Join([]string{
	// entry points
	`ret_fast_syscall`, `vector_swi`, `entry_SYSCALL`, `do_syscall_`, `do_fast_syscall`, `_?_?do_fast_syscall`, `do_int80`, `ret_from_fork`,
	`kthread$`, `worker_thread`, `process_one_work`, `process_scheduled_works`, `smpboot_thread_fn`,
	`call_timer_fn`, `expire_timers`, `_?_?run_timers`, `run_timer_softirq`, `_?_?do_softirq`, `handle_softirqs`,
	`net_rx_action`, `_?_?napi_poll`, `tasklet_action`, `_?_?tasklet_action`, `rcu_do_batch`, `rcu_core`,
	`_?_?hrtimer_run_queues`, `_?_?run_hrtimer`, `smp_call_function`, `on_each_cpu`,
	`_?_?netif_receive_skb`, `netif_receive_skb`, `process_backlog`, `_?_?netif_rx`, `netif_rx`,
	`task_work_run`, `_?_?exit_to_user`, `exit_to_user`, `do_exit`, `do_group_exit`, `get_signal`,
	`compat_blkdev_ioctl`, `_?_?blkdev_driver_ioctl`, `[a-z0-9_]+_compat_ioctl$`,
	// dispatchers: their caller names the device, protocol or file system
	`(?:SyS_|sys_|_?_?se_sys_|_?_?do_sys_|_?_?x64_sys_|_?_?ia32_sys_|_?_?arm64_sys_|ksys_|compat_SyS_|_?_?ia32_compat_sys_|_?_?do_compat_sys_|_?_?se_compat_sys_)(?:ioctl|read|write|readv|writev|pread64|pwrite64|preadv|pwritev|preadv2|pwritev2|sendmsg|sendmmsg|sendto|send|recvmsg|recvmmsg|recvfrom|recv|connect|bind|accept4?|listen|setsockopt|getsockopt|socket|splice|sendfile64|fcntl|ppoll|poll|select|pselect6|epoll_wait|epoll_pwait|io_uring_enter|compat_ioctl)$`,
	`_?_?vfs_(?:read|write|readv|writev|ioctl|iter_read|iter_write)`, `do_vfs_ioctl`, `vfs_ioctl`, `do_iter_(?:read|write|readv_writev)`,
	`new_sync_(?:read|write)`, `_?_?kernel_(?:read|write)`, `do_readv`, `do_writev`, `do_preadv`, `do_pwritev`,
	`_?_?_?_?sys_sendmsg`, `_?_?_?_?sys_recvmsg`, `_?_?sys_sendmmsg`, `_?_?sys_sendto`, `_?_?sys_recvfrom`,
	`_?_?sys_connect`, `_?_?sys_bind`, `_?_?sys_setsockopt`, `_?_?sys_getsockopt`, `_?_?sys_accept4?`,
	`_?_?sock_sendmsg`, `sock_sendmsg`, `sock_recvmsg`, `_?_?sock_recvmsg`, `sock_write_iter`, `sock_read_iter`,
	`sock_ioctl`, `sock_do_ioctl`, `netlink_sendmsg`, `netlink_unicast`, `netlink_rcv_skb`, `netlink_dump`,
	`_?_?netlink_dump_start`, `rtnetlink_rcv_msg`, `rtnetlink_rcv`, `genl_rcv_msg`, `genl_rcv`, `genl_family_rcv_msg`,
	`_?_?genl_family_rcv_msg`, `genl_lock_dumpit`, `genl_dumpit`, `nfnetlink_rcv_msg`, `nfnetlink_rcv`,
	`_?_?sys_setsockopt`, `do_sock_setsockopt`, `sock_common_setsockopt`, `_?_?sock_setsockopt`,
	`tty_ioctl`, `blkdev_ioctl`, `blkdev_common_ioctl`, `kvm_vm_ioctl$`, `kvm_vcpu_compat_ioctl`,
}, "|") + `)`)
