# Traces seed C's csum failure on the mutant with the kernel's own tracing
# (kprobe events and btrfs/filemap tracepoints), stopping the trace at the
# first failed data checksum, so the failing page's history can be read back.
# seed-c-paced's plan was found this way (docs/seeds.md, C).
#
# Run from the repository root (the trace, some 300 MB, goes to stdout):
#   faultline vm --kernel 6.1-mutant-seed-c --fs btrfs --numa 2 --timeout 300s --quiet \
#     -- sh -c "$(cat scenarios/experiments/seed-c-trace.sh)" > c.trace
# The console shows "csum failed root 5 ino 258 off OFF"; the page is
# OFF/4096, and its history is
#   grep -E "idx=PAGE .*map=DST|ino=258 page_index=PAGE |ino=258 file_offset|ino 102 .*ofs=OFF " c.trace
# with DST the map= of the fl_fix lines (the destination file's mapping; the
# ordered-extent and end-io lines are ranges: pick those covering OFF).
# Offsets are 6.1's: page->index at 0x20, page->mapping at 0x18, and the
# fixup worker's page in rbx at +0x7d (faultline's 6.1 builds). Fields:
# fl= page flags (bit 3 dirty, 10 checked, 14 ordered, 15 writeback).
set -e
T=/sys/kernel/tracing
echo 0 > $T/tracing_on
echo 100000 > $T/buffer_size_kb
cd $T
P='idx=+0x20(%di):u64 fl=+0(%di):x64 map=+0x18(%di):x64'
echo "p:fl_cow btrfs_writepage_cow_fixup $P" >> kprobe_events
echo 'r:fl_cowr btrfs_writepage_cow_fixup ret=$retval:s32' >> kprobe_events
echo 'p:fl_fix btrfs_writepage_fixup_worker+0x7d idx=+0x20(%bx):u64 fl=+0(%bx):x64 map=+0x18(%bx):x64' >> kprobe_events
echo 'p:fl_dirty filemap_dirty_folio idx=+0x20(%si):u64 fl=+0(%si):x64 map=%di:x64' >> kprobe_events
echo 'p:fl_mig btrfs_migrate_folio idx=+0x20(%dx):u64 fl=+0(%dx):x64 map=%di:x64' >> kprobe_events
echo 'r:fl_migr btrfs_migrate_folio ret=$retval:s32' >> kprobe_events
echo 'p:fl_read btrfs_read_folio idx=+0x20(%si):u64 fl=+0(%si):x64 map=+0x18(%si):x64' >> kprobe_events
echo 'p:fl_csum btrfs_check_data_csum idx=+0x20(%cx):u64 fl=+0(%cx):x64 map=+0x18(%cx):x64 off=%dx:u64' >> kprobe_events
echo 'r:fl_csumr btrfs_check_data_csum ret=$retval:s32' >> kprobe_events
for e in fl_cow fl_cowr fl_fix fl_dirty fl_mig fl_migr fl_read fl_csum fl_csumr; do echo 1 > events/kprobes/$e/enable; done
for e in btrfs/__extent_writepage btrfs/btrfs_ordered_extent_add btrfs/btrfs_writepage_end_io_hook filemap/mm_filemap_delete_from_page_cache; do
	echo 1 > events/$e/enable
done
echo 'traceoff if ret != 0' > events/kprobes/fl_csumr/trigger
echo 1 > tracing_on
cd /mnt/scratch
workload mmap-dio --threads 2 --size 16M --duration "${DUR:-60s}" > /tmp/wl.out 2>&1 || echo "workload exit $?"
echo 0 > $T/tracing_on
tail -c 2000 /tmp/wl.out
dmesg | grep -i 'csum failed' | head -5
echo ===TRACE===
cat $T/trace
