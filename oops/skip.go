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
// doing": entry points (syscall entry, workqueue, timers, softirq,
// kthreads, page faults, returning to user space) and the dispatchers
// whose caller is the discriminating frame (the file, socket, ioctl or
// netlink operation: its caller names the device, protocol or file
// system). Patterns match anywhere in a name unless anchored.
var stallAnchorRE = lazy(strings.Join([]string{
	// entry points
	`process_one_work`, `do_syscall_`, `do_fast_syscall_`, `sysenter_dispatch`, `tracesys_phase2`, `el0_svc_handler`,
	`invoke_syscall`, `ret_fast_syscall`, `netif_receive_skb`, `do_softirq`, `call_timer_fn`, `_run_timers`,
	`run_timer_softirq`, `hrtimer_run`, `run_ksoftirqd`, `smpboot_thread_fn`, `^kthread$`, `start_secondary`,
	`cpu_startup_entry`, `ret_from_fork`,
	// file operations
	`vfs_write`, `vfs_read`, `vfs_iter_read`, `vfs_iter_write`, `do_iter_read`, `do_iter_write`, `call_read_iter`,
	`call_write_iter`, `new_sync_read`, `new_sync_write`, `vfs_ioctl`, `ksys_ioctl`, `compat_ioctl`,
	`compat_sys_ioctl`, `blkdev_driver_ioctl`, `blkdev_ioctl`, `do_iter_readv_writev`, `^call_mmap`, `mmap_region`,
	`do_mmap`, `do_dentry_open`, `vfs_open`,
	// sockets and netlink
	`^sock_sendmsg`, `^sock_recvmsg`, `^sock_release`, `^__sock_release`, `^setsockopt$`, `kernel_setsockopt`,
	`sock_common_setsockopt`, `^listen$`, `kernel_listen`, `sk_common_release`, `^sock_mmap`, `^accept$`,
	`kernel_accept`, `^sock_do_ioctl`, `^sock_ioctl`, `^compat_sock_ioctl`, `^nfnetlink_rcv_msg`,
	`^rtnetlink_rcv_msg`, `^netlink_dump`, `^(?:sys_)?(?:socketpair|connect|ioctl)`,
	// page faults, the way back to user space, cross-CPU calls, tasklets
	`__do_fault`, `do_page_fault`, `^page_fault$`, `__fput`, `task_work_run`, `exit_to_usermode`,
	`smp_call_function`, `tasklet_action`, `tasklet_hi_action`,
}, "|"))

// Generic reports whether fn is a generic frame: one that appears in many
// unrelated stacks and never says where a bug is.
func Generic(fn string) bool { return skipFrame(fn) }
