#!/bin/sh
# Attach and detach benchmark: in one guest of the seed D mutant, times
# `faultline inject` attaching and detaching seed D rendezvous's 54 probes
# around `true`, N rounds alternating faultline's default (kprobe jump
# optimization paused while attaching/detaching) and the baseline
# (FAULTLINE_KPROBE_OPT_PAUSE=off), and prints the medians and their ratio.
# Needs the mutant: faultline kernels build 6.1-mutant-seed-d (make kernels).
# Usage: bench/attach.sh [N] (default 5)
set -eu
n=${1:-5}
bin=${FAULTLINE:-bin/faultline}
scenario=scenarios/seeds/seed-d-rendezvous.yaml
# The scenario's first inject list (the plan), one --inject per line.
specs=$(awk '/^inject:/{on=1; next} on && /^  - /{sub(/^  - /,""); printf "--inject %s ", $0; next} on{exit}' "$scenario")
[ -n "$specs" ] || { echo "no inject list in $scenario" >&2; exit 1; }
script="
set -e
t() { a=\$(cut -d' ' -f1 /proc/uptime); \"\$@\" faultline inject $specs -- true >/dev/null 2>&1; b=\$(cut -d' ' -f1 /proc/uptime); echo \"\$a \$b\" | awk '{printf \"%.3f\", \$2-\$1}'; }
for i in \$(seq $n); do
  p=\$(t env); o=\$(t env FAULTLINE_KPROBE_OPT_PAUSE=off)
  echo round \$i paused \$p baseline \$o
done"
"$bin" vm --kernel 6.1-mutant-seed-d --fs ext4 --timeout 600s --quiet -- sh -c "$script" | tee /dev/stderr | awk '
  /^round/ {p[NR]=$4; o[NR]=$6; n++}
  function med(a,   k, v, i, j, t, m) { m=0; for (k in a) v[++m]=a[k];
    for (i=1;i<=m;i++) for (j=i+1;j<=m;j++) if (v[j]<v[i]) {t=v[i]; v[i]=v[j]; v[j]=t}
    return v[int((m+1)/2)] }
  END { if (!n) { print "no rounds" > "/dev/stderr"; exit 1 }
    mp=med(p); mo=med(o)
    printf "attach+detach of 54 probes, %d rounds: paused median %.3f s, baseline median %.3f s, ratio baseline/paused %.2f\n", n, mp, mo, mo/mp }'
