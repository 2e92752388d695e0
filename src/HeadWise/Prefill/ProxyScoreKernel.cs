using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Prefill;

/// <summary>
/// ProxyAttn's token-level scoring, fused: each proxy's probe queries against its visible keys, key block by key block,
/// with <see cref="BlockSparseKernel"/>'s register tiles; per probe row it keeps each key block's score max and sum of
/// exponentials and combines them at the end (as flash attention combines tiles) into the causal softmax's mass per key
/// block. The [G, rows, keys] score matrix is never written: built with libtorch (product, mask, softmax, pad, sum),
/// each step a fresh copy of it, the scoring cost ~10x its products at 8,192 tokens (docs/benchmarks.md, "Sparse
/// prefill speed"). Inference only.
/// </summary>
internal static unsafe class ProxyScoreKernel
{
    /// <summary>Key columns scored at a time (a multiple of 16).</summary>
    private const int KeyTile = 128;

    /// <param name="queries">[G, R, d] probe queries (unscaled); row r is the query at absolute position <paramref name="positions"/>[r] and sees keys 0 .. that position.</param>
    /// <param name="keys">[G, S, d] each proxy's keys.</param>
    /// <param name="probes">Rows per query block: rows r*probes .. (r+1)*probes - 1 belong to query block r.</param>
    /// <param name="block">Key block size in positions.</param>
    /// <param name="n">Key blocks in all (at least every block a row sees).</param>
    /// <returns>[G, R / probes, n] float32: per proxy and query block, its rows' softmax mass per key block, summed over the rows.</returns>
    public static Tensor BlockMass(Tensor queries, Tensor keys, long[] positions, int probes, int block, int n, float scale)
    {
        int groups = (int)queries.shape[0], rows = (int)queries.shape[1], d = (int)queries.shape[2], s = (int)keys.shape[1];
        int nq = rows / probes, wide = (s + 15) & ~15;
        using var scope = torch.NewDisposeScope();
        var q = queries.to_type(ScalarType.Float32).mul(scale).contiguous();
        // Keys once per call as 16-key panels [G, wide/16, d, 16] (zero past s), the layout the register tile reads.
        var panels = F.pad(keys.to_type(ScalarType.Float32), [0, 0, 0, wide - s]).view(groups, wide / 16, 16, d).transpose(2, 3).contiguous();
        var mass = torch.zeros([groups, nq, n], ScalarType.Float32);
        float* qp = TensorMemory.Address<float>(q), kp = TensorMemory.Address<float>(panels), mp = TensorMemory.Address<float>(mass);
        void Unit(int index) // one proxy and one query block
        {
            int g = index / nq, i = index % nq;
            Rows(qp + ((long)g * rows + (long)i * probes) * d, positions.AsSpan(i * probes, probes), d, kp + (long)g * wide * d, block, n,
                Scratch.Get(probes, d, n), mp + ((long)g * nq + i) * n);
        }
        int units = groups * nq, threads = Math.Max(1, torch.get_num_threads());
        if (threads == 1) for (int u = 0; u < units; u++) Unit(u);
        else Parallel.For(0, units, new ParallelOptions { MaxDegreeOfParallelism = threads }, Unit);
        GC.KeepAlive(q);
        GC.KeepAlive(panels);
        return mass.MoveToOuterDisposeScope();
    }

    /// <summary>A thread's buffers: the unit's rows (padded to whole register tiles), a score tile, and each row's max and sum per key block.</summary>
    private sealed class Scratch
    {
        public readonly float[] Q, S, Max, Sum;
        public readonly int Probes, D, N, Padded;
        private Scratch(int probes, int d, int n)
        {
            (Probes, D, N) = (probes, d, n);
            Padded = (probes + BlockSparseKernel.Rows - 1) / BlockSparseKernel.Rows * BlockSparseKernel.Rows;
            Q = GC.AllocateArray<float>(Padded * d, pinned: true);
            S = GC.AllocateArray<float>(Padded * KeyTile, pinned: true);
            Max = new float[probes * n];
            Sum = new float[probes * n];
        }
        [ThreadStatic] private static Scratch? _mine;
        public static Scratch Get(int probes, int d, int n) =>
            _mine is { } m && m.Probes == probes && m.D == d && m.N == n ? m : _mine = new Scratch(probes, d, n);
    }

    /// <summary>One unit's rows (q: probes rows of d, scaled) against the key panels: their mass per key block added to target[0..n).</summary>
    private static void Rows(float* q, ReadOnlySpan<long> positions, int d, float* panels, int block, int n, Scratch w, float* target)
    {
        int probes = positions.Length, padded = w.Padded;
        long last = 0;
        foreach (var p in positions) last = Math.Max(last, p);
        int visible = (int)last + 1, blocks = (visible + block - 1) / block;
        fixed (float* qs = w.Q, ss = w.S)
        {
            // Padding rows repeat the last row (scored, never read).
            for (int r = 0; r < padded; r++) new Span<float>(q + Math.Min(r, probes - 1) * d, d).CopyTo(new Span<float>(qs + r * d, d));
            w.Max.AsSpan(0, probes * n).Fill(float.NegativeInfinity);
            w.Sum.AsSpan(0, probes * n).Clear();
            for (int b = 0; b < blocks; b++)
            {
                int from = b * block, to = Math.Min(visible, from + block);
                for (int c0 = from & ~15; c0 < to; c0 += KeyTile)
                {
                    int cols = Math.Min(KeyTile, ((to + 15) & ~15) - c0);
                    for (int c = 0; c < cols; c += 16)
                        for (int r = 0; r < padded; r += BlockSparseKernel.Rows)
                            BlockSparseKernel.Tile6x16(qs + r * d, d, panels + (long)(c0 + c) * d, d, ss + r * KeyTile + c, KeyTile, accumulate: false);
                    for (int r = 0; r < probes; r++)
                    {
                        int lo = Math.Max(from, c0) - c0, hi = Math.Min(Math.Min(to, (int)positions[r] + 1), c0 + cols) - c0;
                        Update(ss + r * KeyTile, lo, hi, ref w.Max[r * n + b], ref w.Sum[r * n + b]);
                    }
                }
            }
        }
        for (int r = 0; r < probes; r++)
        {
            float top = float.NegativeInfinity, total = 0;
            for (int b = 0; b < blocks; b++) top = MathF.Max(top, w.Max[r * n + b]);
            for (int b = 0; b < blocks; b++) total += w.Sum[r * n + b] * MathF.Exp(w.Max[r * n + b] - top);
            float inverse = 1f / total;
            for (int b = 0; b < blocks; b++) target[b] += w.Sum[r * n + b] * MathF.Exp(w.Max[r * n + b] - top) * inverse;
        }
    }

    /// <summary>Folds scores x[lo..hi) into a running (max, sum of exp(x - max)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Update(float* x, int lo, int hi, ref float max, ref float sum)
    {
        if (hi <= lo) return;
        float m = max;
        int j = lo;
        if (hi - lo >= 8)
        {
            var mv = Vector256.Create(m);
            for (; j + 8 <= hi; j += 8) mv = Vector256.Max(mv, Vector256.Load(x + j));
            for (int e = 0; e < 8; e++) m = MathF.Max(m, mv.GetElement(e));
        }
        for (; j < hi; j++) m = MathF.Max(m, x[j]);
        var shift = Vector256.Create(m);
        var acc = Vector256<float>.Zero;
        j = lo;
        for (; j + 8 <= hi; j += 8) acc += BlockSparseKernel.Exp(Vector256.Load(x + j) - shift);
        float total = Vector256.Sum(acc);
        for (; j < hi; j++) total += MathF.Exp(x[j] - m);
        sum = sum * MathF.Exp(max - m) + total;
        max = m;
    }
}
