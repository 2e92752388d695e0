using System.Diagnostics;
using System.Numerics;

namespace HeadWise.Bench;

/// <summary>Measures sustained memory read bandwidth: threads summing disjoint slices of a buffer far larger than the caches.</summary>
public static class MemoryBandwidth
{
    public static double ReadGBps(int threads, long bytes = 1L << 30, int repeats = 5)
    {
        var data = new float[bytes / sizeof(float)];
        Parallel.For(0, threads, t => { long n = data.Length / threads; for (long i = t * n; i < (t + 1) * n; i++) data[i] = 1; });
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            var sums = new float[threads];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                int n = data.Length / threads;
                var span = data.AsSpan(t * n, n);
                var acc = Vector<float>.Zero;
                int w = Vector<float>.Count, i = 0;
                for (; i + w <= span.Length; i += w) acc += new Vector<float>(span.Slice(i, w));
                sums[t] = Vector.Sum(acc);
            });
            best = Math.Max(best, bytes / sw.Elapsed.TotalSeconds / 1e9);
            if (sums.Sum() <= 0) throw new InvalidOperationException("bandwidth kernel was optimised away");
        }
        return best;
    }
}
