package oops

import (
	"strings"
	"testing"
)

// TestRules: one report per rule, written from the kernel's printk formats:
// the title and the corrupted flag each rule must give.
func TestRules(t *testing.T) {
	frames := func(fns ...string) string {
		var b strings.Builder
		for _, f := range fns {
			b.WriteString(" " + f + "+0x10/0x20\n")
		}
		return b.String()
	}
	for _, c := range []struct {
		name, log, title string
		corrupted        bool
	}{
		{"old KASAN with its access line", "BUG: KASAN: use-after-free in ext4_foo+0x1/0x2 at addr ffff88003a6bd110\nRead of size 8 by task a/1\nCall Trace:\n" + frames("dump_stack", "kasan_report", "ext4_foo", "vfs_read"),
			"KASAN: use-after-free Read in ext4_foo", false},
		{"old KASAN cut before its access line", "BUG: KASAN: use-after-free in ext4_foo+0x1/0x2 at addr ffff88003a6bd110\n",
			"KASAN: use-after-free in ext4_foo at addr ADDR", true},
		{"KASAN frame from the access stack, never the allocation stack",
			"BUG: KASAN: slab-out-of-bounds in memcpy+0x1/0x2\nRead of size 8 at addr ffff8880 by task a/1\nCall Trace:\n" + frames("dump_stack", "kasan_report", "memcpy", "memcpy_orig") +
				"\nAllocated by task 1:\n" + frames("kmalloc_trace", "btrfs_alloc_thing"),
			"KASAN: slab-out-of-bounds Read in corrupted", true},
		{"BUG in mm/usercopy.c is a bad usercopy", "usercopy: Kernel memory exposure attempt detected\nkernel BUG at mm/usercopy.c:99!\ninvalid opcode: 0000 [#1] SMP\nCall Trace:\n" + frames("usercopy_abort", "__check_heap_object", "__check_object_size", "sg_read", "vfs_read"),
			"BUG: bad usercopy in sg_read", false},
		{"bad page map names no function", "BUG: Bad page map in process a  pte:8000 pmd:1234\nCall Trace:\n" + frames("dump_stack", "print_bad_pte", "zap_pte_range"),
			"BUG: Bad page map", false},
		{"kill init keeps no exit code", "Kernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\nCall Trace:\n" + frames("dump_stack", "panic", "do_exit"),
			"kernel panic: Attempted to kill init!", false},
		{"kernel stack regs with the register", "WARNING: kernel stack regs at ffff8801d1f2fd48 in syz:4321 has bad 'bp' value ffff8801d1f2fe20\n",
			"WARNING: kernel stack regs has bad 'bp' value", false},
		{"kernel stack frame pointer", "WARNING: kernel stack frame pointer at ffff8801d1f2fd48 in syz:4321 has bad value ffff8801d1f2fe20\n",
			"WARNING: kernel stack frame pointer has bad value", false},
		{"old lockdep's RCU report is INFO", "[ INFO: suspicious RCU usage. ]\ninclude/linux/rcupdate.h:1 Illegal context switch!\nCall Trace:\n" + frames("dump_stack", "lockdep_rcu_suspicious", "rcu_preempt_sleep_check", "ext4_bar"),
			"INFO: suspicious RCU usage in ext4_bar", false},
		{"SLUB double free", "BUG kmalloc-64 (Not tainted): Object already free\nINFO: Allocated in foo+0x1/0x2 age=1 cpu=0 pid=1\n",
			"BUG: Object already free", false},
		{"SLUB redzone", "BUG kmalloc-128 (Tainted: G    B  ): Redzone overwritten\nINFO: 0xffff8880 -0xffff8881 @offset=24. First byte 0x0 instead of 0xcc\n",
			"BUG: Redzone overwritten", false},
		{"scheduling while atomic: the Call Trace, not where preemption was disabled", "BUG: scheduling while atomic: a/1/0x00000002\nPreemption disabled at:\n[<ffffffff812b2934>] kernel_fpu_begin_mask+0x64/0x260\nCall Trace:\n" + frames("dump_stack", "__schedule_bug", "__schedule", "schedule", "exit_to_user_mode_prepare"),
			"BUG: scheduling while atomic in exit_to_user_mode_prepare", false},
		{"hung task stuck in a grace period", "INFO: task a:1 blocked for more than 143 seconds.\nCall Trace:\n" + frames("__schedule", "schedule", "schedule_timeout", "wait_for_completion", "__synchronize_srcu", "fsnotify_destroy_group"),
			"INFO: task hung in synchronize_rcu", false},
		{"a WARNING whose stack is gone is corrupted", "WARNING: CPU: 0 PID: 1 at fs/ext4/inode.c:99 ext4_baz+0x1/0x2\nModules linked in:\n",
			"WARNING in corrupted", true},
		{"a fault-injection stack in the report's stack", "WARNING: CPU: 0 PID: 1 at fs/ext4/inode.c:99 ext4_baz+0x1/0x2\nCall Trace:\n" + frames("dump_stack", "should_fail", "ext4_baz"),
			"WARNING in corrupted", true},
		{"a data race names both sides", "BUG: KCSAN: data-race in ext4_a / ext4_b\n\nwrite to 0xffff8880 of 4 bytes by task 1 on cpu 0:\n" + frames("ext4_a", "vfs_write") + "\nread to 0xffff8880 of 4 bytes by task 2 on cpu 1:\n" + frames("ext4_b", "vfs_read"),
			"KCSAN: data-race in ext4_a / ext4_b", false},
		{"UBSAN names its check", "UBSAN: shift-out-of-bounds in fs/ext4/super.c:99:16\nshift exponent 64 is too large\nCall Trace:\n" + frames("dump_stack", "ubsan_epilogue", "__ubsan_handle_shift_out_of_bounds", "ext4_fill_super"),
			"UBSAN: shift-out-of-bounds in ext4_fill_super", false},
		{"UBSAN before 5.9", "UBSAN: Undefined behaviour in fs/ext4/super.c:99:16\nshift exponent 64 is too large\nCall Trace:\n" + frames("dump_stack", "ubsan_epilogue", "__ubsan_handle_shift_out_of_bounds", "ext4_fill_super"),
			"UBSAN: undefined-behaviour in ext4_fill_super", false},
		{"a dropped GCE console leaves every report in doubt", "WARNING: CPU: 0 PID: 1 at fs/ext4/inode.c:99 ext4_baz+0x1/0x2\nCall Trace:\n" + frames("ext4_baz", "ext4_file_write_iter", "vfs_write", "ksys_write") + "serialport: VM disconnected.\n",
			"WARNING in ext4_baz", true},
		{"a device that is never released", "unregister_netdevice: waiting for lo to become free. Usage count = 2\n",
			"unregister_netdevice: waiting for DEV to become free", false},
		{"a stack segment fault", "stack segment: 0000 [#1] PREEMPT SMP\nRIP: 0010:ext4_c+0x1/0x2\nCall Trace:\n" + frames("ext4_d", "vfs_read", "ksys_read"),
			"stack segment fault in ext4_c", false},
		{"an invalid opcode on its own", "invalid opcode: 0000 [#1] PREEMPT SMP\nRIP: 0010:ext4_e+0x1/0x2\nCall Trace:\n" + frames("ext4_f", "vfs_read", "ksys_read"),
			"invalid opcode in ext4_e", false},
		{"a kernel BUG keeps its invalid opcode line", "kernel BUG at fs/ext4/inode.c:2126!\ninvalid opcode: 0000 [#1] SMP PTI\nRIP: 0010:ext4_writepage+0x318/0x770\nCall Trace:\n" + frames("__writepage", "write_cache_pages", "do_writepages"),
			"kernel BUG in ext4_writepage", false},
		{"a stack keyword with no frame after it", "general protection fault: 0000 [#1] SMP KASAN\nRIP: 0010:ext4_q+0x1/0x2\nCall Trace:\nModules linked in:\nx\ny\nz\n",
			"general protection fault in ext4_q", true},
		{"an rcu stall that shows no interrupted stack", "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\nrcu: \tTasks blocked on level-0 rcu_node (CPUs 0-1): P1\na R  running task 0 1 0 0x0\nCall Trace:\n" + frames("__schedule", "preempt_schedule_common", "__sched_setscheduler", "__x64_sys_sched_setattr", "do_syscall_64"),
			"INFO: rcu detected stall in corrupted", true},
		{"an rcu stall in the timer interrupt", "rcu: INFO: rcu_preempt self-detected stall on CPU\nCall Trace:\n <IRQ>\n" + frames("dump_stack", "rcu_sched_clock_irq", "update_process_times") + " </IRQ>\n" + frames("ext4_loop", "ext4_file_read_iter", "vfs_read", "ksys_read", "do_syscall_64"),
			"INFO: rcu detected stall in ext4_file_read_iter", false},
		{"an allocation failure's stack inside a report without caller ids", "WARNING: CPU: 1 PID: 2 at mm/slab_common.c:1012 kmalloc_slab+0x5d/0x70\na: vmalloc: allocation failure: 17045651456 bytes\nCall Trace:\n" + frames("dump_stack", "__warn", "kmalloc_slab", "__kmalloc", "xfrm_add_sa"),
			"WARNING: kmalloc bug in corrupted", true},
		{"with caller ids the task's own stack stays the report's", "[    1.0][  T1] WARNING: CPU: 1 PID: 2 at fs/ext4/inode.c:99 ext4_baz+0x1/0x2\n[    1.0][  T2] a: vmalloc: allocation failure: 17045651456 bytes\n[    1.0][  T1] Call Trace:\n[    1.0][  T1]  dump_stack+0x1/0x2\n[    1.0][  T1]  ext4_baz+0x1/0x2\n[    1.0][  T1]  vfs_read+0x1/0x2\n",
			"WARNING in ext4_baz", false},
		{"with caller ids, the stalled CPU's stack printed after the NMI request", "[  1.0][    C1] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n[  1.0][    C1] Sending NMI from CPU 1 to CPUs 0:\n[  1.0][    C0] NMI backtrace for cpu 0\n[  1.0][    C0] Call Trace:\n[  1.0][    C0]  <IRQ>\n[  1.0][    C0]  nmi_cpu_backtrace+0x1/0x2\n[  1.0][    C0]  </IRQ>\n[  1.0][    C0]  ext4_spin+0x1/0x2\n[  1.0][    C0]  ext4_ioctl+0x1/0x2\n[  1.0][    C0]  vfs_ioctl+0x1/0x2\n[  1.0][    C0]  do_syscall_64+0x1/0x2\n",
			"INFO: rcu detected stall in ext4_ioctl", false},
		{"a BUG line of a kind the rules do not know is titled by its text", "BUG: MAX_LOCKDEP_KEYS too low!\nturning off the locking correctness validator.\nCall Trace:\n" + frames("dump_stack", "register_lock_class", "ext4_x"),
			"BUG: MAX_LOCKDEP_KEYS too low!", false},
		{"an INFO line of a kind the rules do not know", "INFO: something new happened to 0xffff88801234abcd\n",
			"INFO: something new happened to ADDR", false},
		{"lockdep being off is no report", "INFO: lockdep is turned off.\nBUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0 stuck for 125s!\n",
			"BUG: workqueue lockup", false},
		{"a spinlock used on the wrong CPU", "BUG: spinlock wrong CPU on CPU#0, a/1\n lock: 0xffff, .magic: dead4ead\nCall Trace:\n" + frames("dump_stack", "spin_bug", "do_raw_spin_unlock", "ext4_x"),
			"BUG: spinlock wrong CPU in ext4_x", false},
		{"page tables left at exit", "BUG: non-zero pgtables_bytes on freeing mm: 4096\n", "BUG: non-zero pgtables_bytes on freeing mm", false},
		{"the decompressor in the middle of a log", "a\nBooting the kernel.\n", "unexpected kernel reboot", false},
		{"a soft lockup whose stack reaches no dispatcher says nothing", "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]\nRIP: 0010:ext4_spin+0x1/0x2\nCall Trace:\n" + frames("ext4_spin_more", "ext4_inner"),
			"BUG: soft lockup in corrupted", true},
		{"a soft lockup: the frame before the system call", "watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]\nRIP: 0010:ext4_spin+0x1/0x2\nCall Trace:\n" + frames("_raw_spin_lock", "ext4_ioctl_thing", "__x64_sys_ioctl", "do_syscall_64"),
			"BUG: soft lockup in ext4_ioctl_thing", false},
		{"a hung task on the RTNL lock keeps the locking function's name", "INFO: task a:1 blocked for more than 143 seconds.\nCall Trace:\n" + frames("__schedule", "schedule", "__mutex_lock", "rtnl_lock_killable", "register_netdev"),
			"INFO: task hung in rtnl_lock_killable", false},
		{"a hung-task panic alone: its report was lost", "Kernel panic - not syncing: hung_task: blocked tasks\nCall Trace:\n" + frames("dump_stack", "panic", "watchdog", "kthread"),
			"kernel panic: hung_task: blocked tasks", true},
		{"a panic's reason as printed", "Kernel panic - not syncing: Out of memory and no killable processes...\nCall Trace:\n" + frames("dump_stack", "panic", "out_of_memory"),
			"kernel panic: Out of memory and no killable processes...", false},
		{"powerpc's NULL pointer dereference", "BUG: Kernel NULL pointer dereference on read at 0x00000000\nFaulting instruction address: 0xc0000\nNIP [c000000000123456] ext4_x+0x1/0x2\nCall Trace:\n" + frames("ext4_y", "vfs_read", "ksys_read"),
			"BUG: unable to handle kernel NULL pointer dereference in ext4_x", false},
		{"arm64's write to read-only memory", "Unable to handle kernel write to read-only memory at virtual address ffff800008123456\nMem abort info:\npc : ext4_z+0x1/0x2\nCall trace:\n" + frames("ext4_z", "vfs_write", "ksys_write"),
			"BUG: unable to handle kernel paging request in ext4_z", false},
		{"a message with another line's timestamp inside", "WARNING: something odd[   12.345678] happened here\n",
			"WARNING: something odd[ NUM.ADDR] happened here", true},
		{"a fault report without its instruction pointer line", "general protection fault: 0000 [#1] SMP KASAN\nCPU: 0 PID: 1 Comm: a Not tainted\nCall Trace:\n" + frames("ext4_q", "vfs_read", "ksys_read"),
			"general protection fault in corrupted", true},
		{"a device wait printed into a fault report does not cut it", "general protection fault: 0000 [#1] SMP KASAN\nunregister_netdevice: waiting for lo to become free. Usage count = 2\nRIP: 0010:ext4_q+0x1/0x2\nCall Trace:\n" + frames("ext4_r", "vfs_read", "ksys_read"),
			"general protection fault in ext4_q", false},
		{"a CPU-mitigation notice at boot is no report", "Speculative Return Stack Overflow: WARNING: kernel not compiled with CPU_SRSO.\nINFO: something new happened\n",
			"INFO: something new happened", false},
		{"a work item that leaked a lock is named by its function", "BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000000/7\n     last function: ext4_discard_work\n1 lock held by kworker/0:1/7:\n",
			"BUG: workqueue leaked lock or atomic in ext4_discard_work", false},
		{"a header cut after its first word", "INFO:\n", "INFO: corrupted", true},
		{"what is left of an old SLUB report", "INFO: Freed in fasync_free_rcu+0x14/0x20 age=57 cpu=0 pid=18338\n",
			"INFO: Freed in fasync_free_rcu age=NUM cpu=NUM pid=NUM", true},
		{"SLUB's record inside its report is part of it", "BUG kmalloc-64 (Not tainted): Object already free\n---------\nINFO: Allocated in foo+0x1/0x2 age=1 cpu=0 pid=1\nINFO: Freed in bar+0x1/0x2 age=1 cpu=0 pid=1\n",
			"BUG: Object already free", false},
		{"a BUG line whose stack is its WARNING's, without caller ids", "BUG: Dentry ffff8801{i=8bb9,n=lo}  still in use (1) [unmount of proc proc]\n------------[ cut here ]------------\nWARNING: CPU: 1 PID: 2 at fs/dcache.c:1445 umount_check+0x246/0x2c0\nCall Trace:\n" + frames("d_walk", "shrink_dcache_for_umount", "generic_shutdown_super"),
			"BUG: Dentry still in use in unmount", true},
		{"the same with caller ids", "[    1.0][  T9] BUG: Dentry ffff8801{i=8bb9,n=lo}  still in use (1) [unmount of proc proc]\n[    1.0][  T9] WARNING: CPU: 1 PID: 2 at fs/dcache.c:1445 umount_check+0x246/0x2c0\n[    1.0][  T9] Call Trace:\n[    1.0][  T9]  d_walk+0x1/0x2\n[    1.0][  T9]  shrink_dcache_for_umount+0x1/0x2\n[    1.0][  T9]  generic_shutdown_super+0x1/0x2\n",
			"BUG: Dentry still in use in unmount", false},
		{"an arm unwinder that lost the caller", "WARNING: CPU: 0 PID: 1 at net/ipv6/xfrm6_tunnel.c:345 xfrm6_tunnel_net_exit+0x84/0x104\n[<8011218c>] (unwind_backtrace) from [<8010e300>] (show_stack+0x18/0x1c)\n[<8010e300>] (show_stack) from [<80b12478>] (dump_stack+0xa0/0xc0)\n[<8013479c>] (warn_slowpath_fmt) from [<ffffffff>] (0xffffffff)\n",
			"WARNING in corrupted", true},
		{"only the first stack of each kind must hold frames", "INFO: task a:1 blocked for more than 143 seconds.\nCall Trace:\n" + frames("__schedule", "schedule", "ext4_do_thing", "ext4_sync_file") + "Call Trace:\nx\ny\nz\n",
			"INFO: task hung in ext4_do_thing", false},
	} {
		reps := Parse([]byte(c.log))
		if len(reps) == 0 {
			t.Errorf("%s: no report", c.name)
			continue
		}
		if r := reps[0]; r.Title != c.title || r.Corrupted != c.corrupted {
			t.Errorf("%s: %q corrupted=%v (%s), want %q corrupted=%v", c.name, r.Title, r.Corrupted, r.CorruptedReason, c.title, c.corrupted)
		}
	}
}

func TestSanitizeTitle(t *testing.T) {
	for in, want := range map[string]string{
		"KASAN: use-after-free in ext4_foo+0x1d/0x40 at addr ffff88003a6bd110": "KASAN: use-after-free in ext4_foo at addr ADDR",
		"INFO: Freed in f age=12 cpu=1 pid=4242":                               "INFO: Freed in f age=NUM cpu=NUM pid=NUM",
		"WARNING in sha256_update":                                             "WARNING in sha256_update",
		// Short hex stays; a number next to a letter is part of a word.
		"BUG: workqueue lockup - pool cpus=0 node=0 flags=0x0 nice=0": "BUG: workqueue lockup - pool cpus=NUM node=NUM flags=0x0 nice=NUM",
		"kernel panic: hung at fs/ext4/inode.c:123 on CPU#1":          "kernel panic: hung at fs/ext4/inode.c:LINE on CPU",
		"KASAN: slab-out-of-bounds Read in ext4_x":                    "KASAN: slab-out-of-bounds Read in ext4_x",
		// Executor process ids, IP addresses, six hex digits or more,
		// seven decimal digits or more.
		"BUG: task syz-executor.3/12345 leaked":                   "BUG: task syz-executor leaked",
		"WARNING: bad packet from 10.0.2.15":                      "WARNING: bad packet from IP",
		"WARNING: pid 123456 has bad state":                       "WARNING: pid ADDR has bad state",
		"SYZFATAL: mkdir ./syzkaller-testdir264563108: read-only": "SYZFATAL: mkdir ./syzkaller-testdirNUM: read-only",
		"BUG: list 0,1,2 broken":                                  "BUG: list NUM,NUM,NUM broken",
		// syzbot's length, spaces and bytes.
		"WARNING:  two\tspaces \x01here\xff ": "WARNING: two spaces here",
		"BUG: " + strings.Repeat("x", 200):    "BUG: " + strings.Repeat("x", maxTitleLen-5),
	} {
		if got := sanitizeTitle(in); got != want {
			t.Errorf("sanitizeTitle(%q) = %q, want %q", in, got, want)
		}
	}
}
