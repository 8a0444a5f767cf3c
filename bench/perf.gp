# perf.gp - the charts of scripts/bench.sh: GFLOP/s and % of the FMA peak
# against sequence length (B=1 H=8 D=128, non-causal), per fattn path and
# unfused baseline. Input: perf.dat from bench/report.py (columns: S, then
# GFLOP/s and % of peak for blas, onednn, scalar, avx2, avx512; ? = not run).
#   gnuplot -e "dat='docs/perf.dat'; out='docs/perf.png'" bench/perf.gp
set terminal pngcairo size 900,720 font ",10"
set output out
set datafile missing "?"
set logscale x 2
set xrange [100:10000]
set xtics ("128" 128, "256" 256, "512" 512, "1K" 1024, "2K" 2048, "4K" 4096, "8K" 8192)
set grid
set key outside right top
# One colour and point type per implementation, the same in both panels.
set style line 1 lc rgb "#7b3294" pt 1 lw 2   # OpenBLAS
set style line 2 lc rgb "#008837" pt 2 lw 2   # oneDNN
set style line 3 lc rgb "#999999" pt 3 lw 2   # fattn scalar
set style line 4 lc rgb "#e66101" pt 4 lw 2   # fattn AVX2
set style line 5 lc rgb "#0571b0" pt 5 lw 2   # fattn AVX-512
set multiplot layout 2,1 title "fattn vs unfused attention, B=1 H=8 D=128, one thread (medians)"
set ylabel "GFLOP/s"
set yrange [0:*]
plot dat using 1:2 with linespoints ls 1 title "OpenBLAS unfused", \
     dat using 1:4 with linespoints ls 2 title "oneDNN unfused", \
     dat using 1:6 with linespoints ls 3 title "fattn scalar", \
     dat using 1:8 with linespoints ls 4 title "fattn AVX2", \
     dat using 1:10 with linespoints ls 5 title "fattn AVX-512"
set ylabel "% of FMA peak (path's width)"
set xlabel "sequence length S (= Sq = Sk)"
set yrange [0:100]
plot dat using 1:3 with linespoints ls 1 title "OpenBLAS unfused", \
     dat using 1:5 with linespoints ls 2 title "oneDNN unfused", \
     dat using 1:9 with linespoints ls 4 title "fattn AVX2", \
     dat using 1:11 with linespoints ls 5 title "fattn AVX-512"
unset multiplot
