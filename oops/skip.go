package oops

import (
	"strings"
)

// Generic frames: functions that appear in many unrelated stacks and never
// say where a bug is. The guilty frame is the first function that is none of
// these. One alternative per family, anchored at the start of the name.
var skipFrameRE = lazy(`^(?:` + strings.Join([]string{
	// locking
	`_?_?raw_(?:spin|read|write)_`, `_?_?(?:spin|read|write)_(?:un)?lock`, `do_raw_`, `queued_(?:spin|read|write)_`,
	`_?_?mutex_`, `mutex_`, `_?_?ww_mutex`, `lock_acquire`, `lock_release`, `lock_acquired`, `lock_contended`,
	`_?_?lock_(?:sock|timer_base|page|buffer)`, `_?_?down(?:_|$)`, `up(?:_|$)`, `_?_?up_(?:read|write)`,
	`_?_?rwsem_`, `rwsem_`, `_?_?rt_mutex`, `rt_spin`, `percpu_down`, `percpu_up`, `_?_?percpu_rwsem`,
	`lockdep_`, `_?_?lock_acquire`, `_?_?lock_is_held`, `lock_is_held`, `debug_lockdep`, `debug_check_no_`,
	`mark_lock`, `mark_held_locks`, `mark_usage`, `validate_chain`, `check_prev_add`, `check_prevs_add`,
	`check_noncircular`, `check_deadlock`, `print_circular_bug`, `print_deadlock_bug`, `print_usage_bug`,
	`valid_state`, `check_usage`, `check_irq_usage`, `print_bad_irq_dependency`, `print_lock`, `print_held_locks`,
	`register_lock_class`, `look_up_lock_class`, `hlock_class`, `lockdep_`, `__lockdep`, `find_held_lock`,
	`console_lock`, `console_unlock`, `console_trylock`, `console_emit`, `console_flush`,
	`_?_?local_bh_`, `local_bh_`, `_?_?might_sleep`, `_?_?_might_sleep`, `_?_?might_fault`, `_?_?might_resched`,
	`_?_?cond_resched`, `_cond_resched`, `preempt_count_`, `_?_?preempt_schedule`, `trace_hardirqs`, `lockdep_hardirqs`,
	`rcu_lock_`, `rcu_read_lock`, `rcu_read_unlock`, `__rcu_read_`,
	// scheduling and waiting
	`_?_?schedule(?:_|$)`, `schedule_`, `io_schedule`, `_?_?wait_for_(?:common|completion)`, `wait_for_completion`,
	`do_wait_for_common`, `_?_?wait_on_bit`, `out_of_line_wait_on_bit`, `bit_wait`, `wait_on_page_bit`,
	`folio_wait_bit`, `__folio_lock`, `folio_lock`, `__lock_page`, `__wait_on_buffer`, `wait_on_buffer`,
	`prepare_to_wait`, `finish_wait`, `_?_?wake_up`, `try_to_wake_up`, `autoremove_wake_function`,
	`msleep`, `usleep_range`, `schedule_hrtimeout`, `_?_?cancel_work`, `_?_?cancel_delayed_work`,
	`kthread_stop`, `rcu_barrier`, `_?_?wait_rcu_gp`,
	// allocators
	`_?_?kmalloc`, `kmalloc`, `_?_?do_kmalloc`, `_?_?kmem_cache_`, `kmem_cache_`, `kzalloc`, `kcalloc`,
	`kmalloc_array`, `krealloc`, `_?_?krealloc`, `kvmalloc`, `kvzalloc`, `kvcalloc`, `kvfree`, `kfree`, `_?_?kfree`,
	`kvrealloc`, `kmemdup`, `kstrdup`, `kstrndup`, `memdup_user`, `vmemdup_user`, `_?_?vmalloc`, `vmalloc`, `vzalloc`,
	`_?_?vfree`, `vfree`, `_?_?alloc_pages`, `alloc_pages`, `_?_?get_free_pages`, `get_zeroed_page`, `free_pages`,
	`_?_?free_pages`, `_?_?slab_`, `_?_?_slab_`, `slab_`, `_?_?kmem_`, `kmem_`, `new_slab`, `allocate_slab`,
	`_?_?alloc_skb`, `alloc_skb`, `_?_?kmalloc_node`, `kmalloc_node`, `kmalloc_trace`, `_?_?kmalloc_track`,
	`get_page_from_freelist`, `_?_?folio_alloc`, `folio_alloc`, `_?_?page_frag_alloc`, `page_frag_alloc`,
	`_?_?alloc_percpu`, `pcpu_alloc`, `mempool_alloc`, `kvmalloc_node`, `_?_?kvmalloc_node`,
	`should_fail`, `_?_?should_failslab`, `should_fail_alloc_page`, `fail_dump`, `slab_pre_alloc_hook`,
	`slab_post_alloc_hook`, `kmemleak_alloc`, `kmemleak_`, `create_object`, `__create_object`,
	// memory and string helpers
	`_?_?mem(?:cpy|set|move|cmp|chr|scan|dup)`, `mem(?:cpy|set|move|cmp|chr|scan|dup)`, `_?_?memcpy`,
	`_?_?str(?:n)?(?:cpy|cmp|len|cat|chr|dup|sep|lcpy|scpy|casecmp)`, `str(?:n)?(?:cpy|cmp|len|cat|chr|dup|sep|lcpy|scpy)`,
	`_?_?copy_(?:to|from)_user`, `copy_(?:to|from)_user`, `_copy_(?:to|from)_user`, `raw_copy_`, `copy_user_`,
	`_?_?copy_user`, `_?_?get_user`, `_?_?put_user`, `_?_?probe_kernel`, `copy_from_kernel_nofault`,
	`csum_partial`, `memchr_inv`, `_?_?bitmap_`, `find_(?:next|first)_`, `_find_(?:next|first)_`, `sort$`, `sort_r`,
	`_?_?check_object_size`, `check_heap_object`, `check_zeroed_user`, `copy_struct_from_user`, `usercopy_`, `_?_?inline_copy`, `instrument_copy_`,
	`copyout`, `copyin`, `_copy_to_iter`, `_copy_from_iter`, `copy_page_to_iter`, `copy_page_from_iter`,
	`context_switch`, `_?_?switch_to`, `finish_task_switch`, `ldsem_down`, `osq_lock`, `spin_dump`,
	`check_preemption_disabled`, `debug_smp_processor_id`, `_?_?this_cpu_preempt_check`, `_?_?panic`,
	`kthread_should_`,
	`retint_kernel`, `asm_call_on_stack`, `asm_call_`, `call_on_stack`,
	`dump_backtrace`, `show_trace`, `_?_?srcu_read_`, `srcu_read_`, `complete$`, `complete_all`,
	`kobject_put`, `kobject_get`, `kobject_del`, `kobject_release`, `kref_put`, `kref_get`, `_?_?kobject_`,
	`del_timer`, `_?_?del_timer`, `init_timer_key`, `_?_?init_timer`, `timer_setup`, `try_to_del_timer_sync`, `timer_delete`, `_?_?timer_delete`,
	`atomic_`, `_?_?atomic_`, `arch_atomic`, `_atomic_dec_and_lock`, `refcount_dec_and_`,
	`rb_erase`, `rb_insert`, `_?_?rb_`, `xa_`, `_?_?xa_`, `xas_`, `idr_`, `ida_`,
	`strnstr`, `strstr`, `crc16`, `crc32`, `_?_?crc32`, `sha256`, `aes_encrypt`, `aes_decrypt`,
	`_?_?call_rcu`, `call_rcu`, `kvfree_call_rcu`, `_?_?vunmap`, `vunmap`,
	// driver core, sysfs, kobjects, USB core: the driver that calls them is guilty
	`_?_?device_(?:add|del|register|unregister|release_driver|create|destroy|link_|driver_attach|attach)`,
	`device_(?:add|del|register|unregister|release_driver|create|destroy|link_|attach|initial_probe|for_each_child)`,
	`get_device_parent`, `devres_release_all`, `_?_?devres_`, `devm_`, `bus_(?:add|remove|probe)_`, `driver_`,
	`_?_?driver_`, `really_probe`, `_?_?really_probe`, `_?_?device_attach`, `bus_for_each_`, `_?_?bus_for_each`,
	`call_driver_probe`, `sysfs_(?:create|remove|add|put)_`, `_?_?sysfs_`,
	`debugfs_(?:create|remove)`, `proc_(?:create|remove)`, `remove_proc_`, `usb_kill_`, `usb_poison_`,
	`usb_(?:un)?anchor_`, `usb_disable_`, `usb_unbind_`, `usb_driver_release_interface`, `usb_deregister`,
	`usb_disconnect`, `usb_set_configuration`, `usb_new_device`, `remove_intf_ep_devs`,
	`usb_probe_interface`, `usb_unbind_interface`, `hub_event`, `hub_port_connect`,
	`rollback_registered`, `unregister_netdevice`, `unregister_netdev`, `netdev_run_todo`,
	`_?_?dev_printk`, `dev_printk`, `_dev_(?:err|warn|info)`, `dev_(?:err|warn|info)`, `snd_card_`,
	`i2c_(?:del|new|register|unregister)`, `device_remove_file`, `dpm_sysfs_remove`, `device_pm_remove`,
	`device_release$`, `ref_tracker_`, `kernel_fpu_begin`, `unlock_page`, `folio_unlock`, `free_large_kmalloc`,
	`aesti_`, `_?_?crypto_`, `simple_copy_to_iter`, `post_alloc_hook`, `_?_?set_page_owner`, `prep_new_page`,
	`skb_panic`, `skb_under_panic`, `skb_over_panic`, `skb_push`, `skb_put`, `_?_?do_kernel_fault`, `do_mem_abort`,
	`do_tag_check_fault`, `el1_`, `el0_`, `_?_?irq_svc`, `print_tainted`, `ret_fast_syscall`, `vector_swi`, `_?_?sys_trace`, `stack_trace_`, `arch_stack_walk`, `_?_?save_stack`, `tty_ldisc_lock`, `_?_?flush_work$`,
	`sock_kmalloc`, `sk_prot_alloc`, `_?_?dev_alloc_skb`, `dev_alloc_skb`, `_?_?netdev_alloc_skb`,
	`pcpu_`, `_?_?list_lru_init`, `unwind_next_frame`, `unwind_get_return`, `unwind_backtrace`, `sget_userns`,
	`alloc_super`, `_?_?unregister_client`, `i2c_unregister_device`, `xts_`, `_?_?xts_`, `skcipher_`,
	`_?_?btrfs_assertfail`, `assertfail`, `check_panic_on_warn`, `_?_?page_pool_`, `page_pool_`, `fast_dput`, `dput$`, `handle_percpu_devid_irq`,
	`generic_handle_`, `_?_?handle_domain_irq`, `gic_handle_irq`, `handle_fasteoi_irq`,
	// printing, bug reporting, traps
	`_?_?printk`, `printk`, `vprintk`, `_printk`, `dump_stack`, `_?_?dump_stack`, `show_stack`, `show_regs`,
	`panic$`, `_?_?warn`, `warn_slowpath`, `_?_?warn_printk`, `report_bug`, `fixup_bug`, `handle_bug`,
	`do_error_trap`, `do_invalid_op`, `do_trap`, `exc_invalid_op`, `invalid_op`, `asm_exc_`, `exc_`, `do_int3`,
	`_?_?die`, `die$`, `oops_`, `no_context`, `_?_?bad_area`, `bad_area`, `page_fault_oops`, `kernelmode_fixup_or_oops`,
	`_?_?do_page_fault`, `do_page_fault`, `do_user_addr_fault`, `do_kern_addr_fault`, `handle_page_fault`,
	`page_fault`, `async_page_fault`, `general_protection`, `do_general_protection`, `spurious_kernel_fault`,
	`bust_spinlocks`, `nmi_cpu_backtrace`, `nmi_trigger_`, `arch_trigger_`, `trigger_all_cpu`, `rcu_dump_cpu_stacks`,
	`print_address_description`, `print_report`, `print_trailer`, `object_err`, `print_page_info`, `slab_bug`,
	`slab_err`, `print_section`, `check_bytes_and_report`, `check_object`, `_?_?check_heap`, `free_debug_processing`,
	`_?_?debug_object`, `debug_object`, `debug_print_object`, `debug_check_`, `_?_?list_(?:add|del)`, `list_(?:add|del)`,
	`_?_?list_add_valid`, `_?_?list_del_entry`, `hlist_`, `_?_?hlist_`, `refcount_`, `_?_?refcount_`,
	`ex_handler_`, `fixup_exception`, `iput`, `_?_?bug$`, `bug$`,
	// sanitizers and coverage
	`_?_?kasan_`, `kasan_`, `_?_?_kasan_`, `____kasan_`, `check_memory_region`, `_?_?asan_`, `_?_?kmsan_`, `kmsan_`,
	`_?_?msan_`, `_?_?kcsan_`, `kcsan_`, `_?_?tsan_`, `_?_?ubsan_`, `ubsan_`, `handle_overflow`, `_?_?sanitizer_`,
	`write_comp_data`, `_?_?kfence_`, `kfence_`, `check_canary`, `_?_?check_canary`, `kcov_`, `__kcov_`,
	`_?_?stack_chk_fail`, `stack_chk_fail`, `_?_?fortify_`, `fortify_`,
	// interrupts, entry, workqueue and kthread plumbing
	`_?_?do_softirq`, `do_softirq`, `_?_?irq_exit`, `irq_exit`, `_?_?sysvec_`, `sysvec_`, `asm_sysvec_`,
	`_?_?smp_apic_timer_interrupt`, `smp_apic_timer_interrupt`, `apic_timer_interrupt`, `hrtimer_`, `_?_?hrtimer_`,
	`_?_?run_timers`, `run_timer_softirq`, `call_timer_fn`, `expire_timers`, `tick_(?:sched|nohz|do_|periodic|handle_|irq_|program|check|broadcast)`, `update_process_times`,
	`_?_?handle_irq`, `handle_irq`, `do_IRQ`, `common_interrupt`, `ret_from_intr`, `irq_`, `_?_?irq_`,
	`entry_SYSCALL`, `do_syscall_`, `_?_?do_fast_syscall`, `do_fast_syscall`, `entry_SYSENTER`, `do_int80`,
	`syscall_`, `ret_from_fork`, `kthread$`, `worker_thread`, `process_one_work`, `process_scheduled_works`,
	`rescuer_thread`, `smpboot_thread_fn`, `call_rcu`, `rcu_core`, `rcu_do_batch`, `rcu_process_callbacks`,
	`_?_?rcu_`, `rcu_`, `_?_?queue_work`, `queue_work`, `_?_?queue_delayed_work`, `call_usermodehelper`,
	`native_`, `_?_?native_`, `arch_`, `_?_?x86_`, `do_one_initcall`, `kernel_init`,
}, "|") + `)`)

// skipFrame reports whether fn is a generic frame.
func skipFrame(fn string) bool { return skipFrameRE.MatchString(fn) }

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
