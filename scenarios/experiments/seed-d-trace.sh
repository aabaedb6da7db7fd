# Traces seed D's window on the mutant with the kernel's own tracing (kprobe
# events and vmscan/writeback/filemap tracepoints), stopping the trace at the
# first page ext4_dirty_folio finds without buffers, so that page's history
# can be read back. seed-d-rendezvous's plan was found this way
# (docs/seeds.md, D).
#
# Run from the repository root (the trace, up to some 300 MB, goes to stdout);
# add seed-d-paced's --inject options to trace an injected crash:
#   faultline vm --kernel 6.1-mutant-seed-d --fs ext4 --timeout 900s --quiet \
#     -- sh -c "$(cat scenarios/experiments/seed-d-trace.sh)" > d.trace
# The last fl_dirty line with priv=0x0 is the page (idx=, map=); its history:
#   grep -E "idx=IDX .*map=MAP|fl_gup|fl_spd|memcg_reclaim|writeback_start" d.trace
# fl_gup/fl_spd are the reads' bio_iov_iter_get_pages / bio_set_pages_dirty
# (the window is between them), fl_ref/fl_unmap/fl_tfb reclaim's scan, unmap
# and buffer strip (fl_tfbr ret=1: stripped), fl_cdio/fl_wbs/fl_wbe writeback.
# Offsets are 6.1's (page->index at 0x20, ->mapping 0x18, ->private 0x28);
# flags fl=: bit 1 referenced, 3 dirty, 5 active, 13 private, 15 writeback.
# The WARNING does not panic the guest (panic_on_oops is turned off below:
# the mutant's BUG at writeback kills only the flusher), so the trace is
# still there to read. Note: kprobe events at a function's entry can hide
# the return address a caller= injection at the same entry reads (one
# traced run: seed-d-paced's caller= probe filtered every call).
set -e
echo 0 > /proc/sys/kernel/panic_on_oops
T=/sys/kernel/tracing
echo 0 > $T/tracing_on
echo 60000 > $T/buffer_size_kb
cd $T
P='idx=+0x20(%di):u64 fl=+0(%di):x64 map=+0x18(%di):x64'
echo "p:fl_dirty ext4_dirty_folio idx=+0x20(%si):u64 fl=+0(%si):x64 priv=+0x28(%si):x64 map=%di:x64" >> kprobe_events
echo "p:fl_tfb try_to_free_buffers $P" >> kprobe_events
echo 'r:fl_tfbr try_to_free_buffers ret=$retval:s32' >> kprobe_events
echo "p:fl_unmap try_to_unmap $P" >> kprobe_events
echo "p:fl_ref folio_referenced $P" >> kprobe_events
echo 'r:fl_refr folio_referenced ret=$retval:s32' >> kprobe_events
echo "p:fl_wbs __folio_start_writeback $P" >> kprobe_events
echo "p:fl_wbe folio_end_writeback $P" >> kprobe_events
echo "p:fl_cdio folio_clear_dirty_for_io $P" >> kprobe_events
echo "p:fl_mig buffer_migrate_folio idx=+0x20(%dx):u64 fl=+0(%dx):x64 map=%di:x64" >> kprobe_events
echo "p:fl_gup bio_iov_iter_get_pages" >> kprobe_events
echo 'r:fl_gupr bio_iov_iter_get_pages ret=$retval:s32' >> kprobe_events
echo "p:fl_spd bio_set_pages_dirty" >> kprobe_events
echo 'r:fl_spdr bio_set_pages_dirty' >> kprobe_events
echo "p:fl_wake wakeup_flusher_threads" >> kprobe_events
echo "p:fl_mkw ext4_page_mkwrite" >> kprobe_events
for e in fl_dirty fl_tfb fl_tfbr fl_unmap fl_ref fl_refr fl_wbs fl_wbe fl_cdio fl_mig fl_gup fl_gupr fl_spd fl_spdr fl_wake fl_mkw; do
	echo 1 > events/kprobes/$e/enable
done
for e in vmscan/mm_vmscan_memcg_reclaim_begin vmscan/mm_vmscan_memcg_reclaim_end vmscan/mm_vmscan_lru_shrink_inactive vmscan/mm_vmscan_lru_shrink_active filemap/mm_filemap_delete_from_page_cache writeback/writeback_start writeback/writeback_written; do
	echo 1 > events/$e/enable
done
echo 'traceoff if priv == 0' > events/kprobes/fl_dirty/trigger
echo 1 > tracing_on
cd /mnt/scratch
workload mmap-dio --threads 2 --size 16M --pause 200ms --reclaim-every 1s --duration 240s > /tmp/wl.out 2>&1 &
W=$!
while kill -0 $W 2>/dev/null && [ "$(cat $T/tracing_on)" = 1 ]; do sleep 1; done
kill $W 2>/dev/null || true
sleep 1
echo "tracing_on=$(cat $T/tracing_on) (0: stopped at a page without buffers)"
echo 0 > $T/tracing_on
tail -c 1500 /tmp/wl.out
dmesg | grep -A30 'WARNING' | head -60
echo ===TRACE===
cat $T/trace
