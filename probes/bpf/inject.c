// SPDX-License-Identifier: GPL-2.0
//
// faultline injection programs. One program instance is loaded per
// injection point; its configuration is in the read-only globals below
// (rewritten by the Go loader before loading) and its counters in the
// one-entry "stats" map.
//
// No CO-RE and no vmlinux.h: the programs read only registers, so they load
// on any kernel with kprobes and BPF, with or without BTF.
//
//   count  counts hits (any kernel with BPF kprobes)
//   delay  busy-waits with bpf_loop + bpf_ktime_get_ns (kernel >= 5.17),
//          ending early if an until= memory test passes or (until-in=)
//          some task enters another function
//   fail   bpf_override_return (CONFIG_BPF_KPROBE_OVERRIDE, and the target
//          on the error-injection list)

#include <linux/bpf.h>
#define __VMLINUX_H__ /* kernel pt_regs field names in bpf_tracing.h */
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* The kernel's x86-64 struct pt_regs. */
struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

char LICENSE[] SEC("license") = "GPL";

/* Configuration, set by the loader. */
volatile const __u32 threshold = 0;	/* fire when prandom < threshold ... */
volatile const __u8 always = 1;		/* ... or always */
volatile const __u64 delay_min_ns = 0;
volatile const __u64 delay_span_ns = 0;	/* delay = min + rand % (span+1) */
volatile const __u64 budget_ns = 0;	/* total delay per second, all CPUs */
volatile const __s64 retval = 0;	/* fail: the forced return value */
volatile const __u32 want_tgid = 0;	/* 0: any process */
volatile const __u64 want_cgroup = 0;	/* 0: any cgroup (v2 id) */
volatile const __u8 check_comm = 0;
volatile const char want_comm[16] = {};
volatile const __u64 caller_lo = 0;	/* caller range [lo, hi); 0: any */
volatile const __u64 caller_hi = 0;
volatile const __u8 caller_arg = 0;	/* caller is argument 2, not the return address */
volatile const __u8 match_site = 0;	/* argument 1 must equal site */
volatile const __s32 site = 0;
/* Memory test: the bits field_mask of the u64 at register + field_off must
 * equal field_want (each bit set or clear). field_reg is 1 + the register's
 * index in struct pt_regs (r15 .. di); 0: no test. */
volatile const __u8 field_reg = 0;
volatile const __u64 field_off = 0;
volatile const __u64 field_mask = 0;
volatile const __u64 field_want = 0;
/* while=: fire only while some task is between the entry and the return of
 * another function, whose while_enter/while_exit programs keep the count in
 * the "active" map (shared with this program by the loader). */
volatile const __u8 check_while = 0;
/* until-set= / until-clear= (delay only): the busy-wait ends as soon as the
 * bits until_mask of the u64 at register until_reg + until_off equal
 * until_want (until_reg numbered as field_reg; 0: no early end). The word is
 * re-read on every turn of the wait: the other side of the race changing it
 * ends the hold. */
volatile const __u8 until_reg = 0;
volatile const __u64 until_off = 0;
volatile const __u64 until_mask = 0;
volatile const __u64 until_want = 0;
/* until-in= (delay only): the busy-wait ends as soon as some task is inside
 * another function, counted by while_enter/while_exit programs in the
 * "until_active" map (shared by the loader, like "active"). */
volatile const __u8 check_until_in = 0;

struct stats {
	__u64 hits;	    /* the probe ran */
	__u64 filtered;	    /* ... but a filter (comm, pid, cgroup, caller, site, memory test, while) said no */
	__u64 fired;	    /* injected: delayed or failed */
	__u64 delay_ns;	    /* total injected delay */
	__u64 budget_skips; /* would have fired, but the per-second budget was spent */
	__u64 window_start;
	__u64 window_used;
	__u64 until_met;    /* delays that ended early: the until= test passed */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} stats SEC(".maps");

/* active[0]: how many tasks are inside the while= function now. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} active SEC(".maps");

/* until_active[0]: how many tasks are inside the until-in= function now. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s64);
} until_active SEC(".maps");

static __always_inline struct stats *get_stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&stats, &zero);
}

/* reg_value reads register idx (1 + its index in struct pt_regs) into *v;
 * 0 on success. */
static __always_inline int reg_value(struct pt_regs *ctx, __u8 idx, unsigned long *v)
{
	/* A copy of the registers, indexed on the stack: the verifier refuses
	 * a variable offset into ctx, which a switch would compile to. */
	struct pt_regs regs;
	if (bpf_probe_read_kernel(&regs, sizeof(regs), ctx))
		return -1;
	__u32 i = idx - 1;
	if (i >= 15)
		return -1;
	*v = ((unsigned long *)&regs)[i];
	return 0;
}

/* field_ok: the memory test passes (or there is none). A word that cannot be
 * read fails it. */
static __always_inline int field_ok(struct pt_regs *ctx)
{
	if (!field_reg)
		return 1;
	unsigned long base = 0;
	if (reg_value(ctx, field_reg, &base))
		return 0;
	__u64 word = 0;
	if (bpf_probe_read_kernel(&word, sizeof(word), (void *)(base + field_off)))
		return 0;
	return (word & field_mask) == field_want;
}

/* wanted: the filters match this call. */
static __always_inline int wanted(struct pt_regs *ctx)
{
	if (match_site && (__s32)PT_REGS_PARM1(ctx) != site)
		return 0;
	if (check_while) {
		__u32 zero = 0;
		__s64 *n = bpf_map_lookup_elem(&active, &zero);
		if (!n || *n <= 0)
			return 0;
	}
	if (want_tgid && (bpf_get_current_pid_tgid() >> 32) != want_tgid)
		return 0;
	if (want_cgroup && bpf_get_current_cgroup_id() != want_cgroup)
		return 0;
	if (check_comm) {
		char comm[16];
		bpf_get_current_comm(comm, sizeof(comm));
		for (int i = 0; i < 16; i++) {
			if (comm[i] != want_comm[i])
				return 0;
			if (comm[i] == 0)
				break;
		}
	}
	if (caller_lo) {
		__u64 caller = 0;
		if (caller_arg)
			caller = PT_REGS_PARM2(ctx);
		else /* at function entry the return address is at the stack top */
			bpf_probe_read_kernel(&caller, sizeof(caller), (void *)PT_REGS_SP(ctx));
		if (caller < caller_lo || caller >= caller_hi)
			return 0;
	}
	return field_ok(ctx);
}

/* enter counts the hit and decides whether to fire (probability, filters). */
static __always_inline struct stats *enter(struct pt_regs *ctx)
{
	struct stats *st = get_stats();
	if (!st)
		return 0;
	__sync_fetch_and_add(&st->hits, 1);
	if (!wanted(ctx)) {
		__sync_fetch_and_add(&st->filtered, 1);
		return 0;
	}
	if (!always && bpf_get_prandom_u32() >= threshold)
		return 0;
	return st;
}

SEC("kprobe")
int count(struct pt_regs *ctx)
{
	struct stats *st = enter(ctx);
	if (st)
		__sync_fetch_and_add(&st->fired, 1);
	return 0;
}

struct spin {
	__u64 until;
	__u64 addr;	/* the until= word, 0: none */
	__u64 met;
};

static long spin_cb(__u64 i, void *data)
{
	struct spin *s = data;
	if (check_until_in) {
		__u32 zero = 0;
		__s64 *n = bpf_map_lookup_elem(&until_active, &zero);
		if (n && *n > 0) {
			s->met = 1;
			return 1;
		}
	}
	if (s->addr) {
		__u64 word = 0;
		if (!bpf_probe_read_kernel(&word, sizeof(word), (void *)s->addr) &&
		    (word & until_mask) == until_want) {
			s->met = 1;
			return 1;
		}
	}
	return bpf_ktime_get_ns() >= s->until;
}

SEC("kprobe")
int delay(struct pt_regs *ctx)
{
	struct stats *st = enter(ctx);
	if (!st)
		return 0;
	__u64 d = delay_min_ns;
	if (delay_span_ns)
		d += (__u64)bpf_get_prandom_u32() % (delay_span_ns + 1);
	__u64 now = bpf_ktime_get_ns();
	/* Budget per one-second window; racy across CPUs by a few delays. */
	if (now - st->window_start > 1000000000ULL) {
		st->window_start = now;
		st->window_used = 0;
	}
	if (st->window_used + d > budget_ns) {
		__sync_fetch_and_add(&st->budget_skips, 1);
		return 0;
	}
	__sync_fetch_and_add(&st->window_used, d);
	struct spin s = { .until = now + d };
	if (until_reg) {
		unsigned long base = 0;
		if (!reg_value(ctx, until_reg, &base))
			s.addr = base + until_off;
	}
	bpf_loop(1 << 23, spin_cb, &s, 0);
	__sync_fetch_and_add(&st->fired, 1);
	if (s.met)
		__sync_fetch_and_add(&st->until_met, 1);
	__sync_fetch_and_add(&st->delay_ns, bpf_ktime_get_ns() - now);
	return 0;
}

SEC("kprobe")
int fail(struct pt_regs *ctx)
{
	struct stats *st = enter(ctx);
	if (!st)
		return 0;
	__sync_fetch_and_add(&st->fired, 1);
	bpf_override_return(ctx, (unsigned long)retval);
	return 0;
}

/* while_enter and while_exit count the tasks inside a function (a kprobe at
 * its entry, a kretprobe at its return). */
SEC("kprobe")
int while_enter(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__s64 *n = bpf_map_lookup_elem(&active, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("kretprobe")
int while_exit(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__s64 *n = bpf_map_lookup_elem(&active, &zero);
	/* Not below zero: a task that was inside when the probes attached
	 * returns without having been counted. */
	if (n && *n > 0)
		__sync_fetch_and_add(n, -1);
	return 0;
}
