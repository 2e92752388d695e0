using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// The block-sparse attention kernel, in the style of flash attention: per (head, query segment) pair, tiles of
/// <see cref="QueryTile"/> queries run an online softmax over only the key segments the pair attends, read straight
/// from the keys' and values' memory (float32; 4 x 16 register tiles of fused multiply-adds for q k^T and p v). Nothing
/// is gathered, padded or masked per pair except the causal edge of the pair's own segment. Why not libtorch's fused
/// kernel on gathered keys: on short query runs it splits queries into small pieces and costs ~2.3x dense per block
/// computed (docs/benchmarks.md, "Sparse prefill speed"). Inference only (no autograd).
/// </summary>
internal static unsafe class BlockSparseKernel
{
    /// <summary>Queries per tile (padded up to a multiple of <see cref="Rows"/>).</summary>
    internal const int QueryTile = 128;

    /// <summary>Query rows per register tile.</summary>
    internal const int Rows = 6;

    /// <summary>Keys per tile (a multiple of 16).</summary>
    internal const int KeyTile = 128;

    /// <param name="q">[1, H, T, d] queries at positions S - T .. S - 1.</param>
    /// <param name="k">[1, KvH, S, d] keys.</param>
    /// <param name="v">[1, KvH, S, d] values.</param>
    /// <param name="bounds">Segment boundaries 0 = b0 &lt; ... &lt; bn = S.</param>
    /// <param name="attended">Per head and query segment (the last nQ of the n), the earlier segments attended (ascending); the pair's own segment is attended too.</param>
    /// <returns>[1, H, T, d] in q's dtype.</returns>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long[] bounds, int[][][] attended)
    {
        int heads = (int)q.shape[1], t = (int)q.shape[2], d = (int)q.shape[3], s = (int)k.shape[2], kvHeads = (int)k.shape[1];
        int n = bounds.Length - 1, nq = attended[0].Length, group = heads / kvHeads, start = s - t;
        using var scope = torch.NewDisposeScope();
        var qf = q.to_type(ScalarType.Float32).contiguous();
        var kt = k[0].to_type(ScalarType.Float32).transpose(1, 2).contiguous();                  // [KvH, d, S]: q k^T reads rows of kt
        var vf = v[0].to_type(ScalarType.Float32).contiguous();                                    // [KvH, S, d]
        var z = torch.empty([1, heads, t, d], ScalarType.Float32);
        float* qp = TensorMemory.Address<float>(qf), kp = TensorMemory.Address<float>(kt), vp = TensorMemory.Address<float>(vf), zp = TensorMemory.Address<float>(z);
        float scale = 1f / MathF.Sqrt(d);
        void Pair(int index)
        {
            int head = index / nq, qi = index % nq, seg = n - nq + qi, g = head / group;
            var work = Scratch.Get(d);
            long from = Math.Max(bounds[seg], start), to = bounds[seg + 1];
            for (long r0 = from; r0 < to; r0 += QueryTile)
            {
                int rows = (int)Math.Min(QueryTile, to - r0);
                Tile(qp + ((long)head * t + r0 - start) * d, rows, (int)r0, kp + (long)g * d * s, s, vp + (long)g * s * d, d,
                    bounds, attended[head][qi], seg, scale, work, zp + ((long)head * t + r0 - start) * d);
            }
        }
        int pairs = heads * nq, threads = Math.Max(1, torch.get_num_threads());
        if (threads == 1) for (int i = 0; i < pairs; i++) Pair(i);
        else Parallel.For(0, pairs, new ParallelOptions { MaxDegreeOfParallelism = threads }, Pair);
        GC.KeepAlive(qf);
        GC.KeepAlive(kt);
        GC.KeepAlive(vf);
        return (q.dtype == ScalarType.Float32 ? z : z.to_type(q.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>A thread's tiles: queries, transposed keys, scores, output sums and the running max and sum per query.</summary>
    private sealed class Scratch
    {
        private readonly float[] _memory; // pinned: the pointers below stay valid for the scratch's life
        public readonly float* Q, Kt, V, S, O;
        public readonly float[] Max = new float[Padded], Sum = new float[Padded];
        public readonly int[] Limit = new int[Padded / Rows]; // per register tile of rows: key columns any of its rows sees
        public readonly int D;
        private Scratch(int d)
        {
            D = d;
            _memory = GC.AllocateArray<float>(2 * Padded * d + 2 * d * KeyTile + Padded * KeyTile + 16, pinned: true);
            var at = (float*)(((nint)Unsafe.AsPointer(ref _memory[0]) + 63) & ~(nint)63); // 64-byte aligned
            Q = at;
            O = Q + Padded * d;
            Kt = O + Padded * d;
            V = Kt + d * KeyTile;
            S = V + d * KeyTile;
        }
        private const int Padded = QueryTile + Rows;
        [ThreadStatic] private static Scratch? _mine;
        public static Scratch Get(int d) => _mine is { } m && m.D == d ? m : _mine = new Scratch(d);
    }

    /// <summary>
    /// One query tile: rows queries (at positions pos0.., at most QueryTile) from q (rows of d), against the attended segments then the own
    /// segment, keys from kt ([d, s], transposed) and values from v ([s, d]); the result to z (rows of d).
    /// </summary>
    private static void Tile(float* q, int rows, int pos0, float* kt, int s, float* v, int d, long[] bounds, int[] past, int seg,
        float scale, Scratch w, float* z)
    {
        float* qs = w.Q, kts = w.Kt, vps = w.V, ss = w.S, os = w.O;
        {
            int padded = (rows + Rows - 1) / Rows * Rows;
            // Queries, scaled once; padding rows repeat the last query (computed, never written out).
            for (int r = 0; r < padded; r++)
                Scaled(q + (long)Math.Min(r, rows - 1) * d, scale, qs + r * d, d);
            new Span<float>(os, padded * d).Clear();
            w.Max.AsSpan(0, padded).Fill(float.NegativeInfinity);
            w.Sum.AsSpan(0, padded).Clear();
            foreach (var j in past) Segment(bounds[j], bounds[j + 1], int.MaxValue);
            Segment(bounds[seg], bounds[seg + 1], pos0);
            for (int r = 0; r < rows; r++)
            {
                float inv = 1f / w.Sum[r];
                for (int i = 0; i < d; i++) z[(long)r * d + i] = os[r * d + i] * inv;
            }

            // Keys [a, b) in tiles; firstQuery: the position of row 0 when the segment is the queries' own (causal), else MaxValue.
            void Segment(long a, long b, int firstQuery)
            {
                for (long c0 = a; c0 < b; c0 += KeyTile)
                {
                    int cols = (int)Math.Min(KeyTile, b - c0), wide = (cols + 15) & ~15;
                    // Keys after a query are not visible (own segment): row r sees Visible(r) of the cols, a register
                    // tile of rows the most its last row sees; the kernels skip the rest.
                    int Visible(int r) => firstQuery == int.MaxValue ? cols : (int)Math.Clamp(firstQuery + Math.Min(r, rows - 1) - c0 + 1, 0, cols);
                    for (int g = 0; g < padded / Rows; g++) w.Limit[g] = Visible(g * Rows + Rows - 1);
                    PackKeys(kt + c0, s, cols, d, kts);
                    Scores(qs, padded, kts, wide, d, w.Limit, ss);
                    for (int r = 0; r < padded; r++)
                        Softmax(ss + r * KeyTile, Visible(r), w.Limit[r / Rows], ref w.Max[r], ref w.Sum[r], os + r * d, d);
                    PackValues(v + c0 * d, cols, d, vps);
                    Accumulate(ss, padded, vps, v + c0 * d, w.Limit, d, os);
                }
            }
        }
    }

    private static void Scaled(float* x, float scale, float* y, int d)
    {
        for (int i = 0; i < d; i++) y[i] = x[i] * scale;
    }

    /// <summary>One row's online-softmax step: scores p[0..visible) become exp(p - new max), p[visible..cols) zero (cols: what the value kernel reads); the row's sum and output rescaled to the new max.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Softmax(float* p, int visible, int cols, ref float max, ref float sum, float* o, int d)
    {
        float m = max;
        int c = 0;
        if (visible >= 8)
        {
            var mx = Vector256.Create(max);
            for (; c + 8 <= visible; c += 8) mx = Vector256.Max(mx, Vector256.Load(p + c));
            for (int i = 0; i < 8; i++) m = MathF.Max(m, mx.GetElement(i));
        }
        for (; c < visible; c++) if (p[c] > m) m = p[c];
        if (m == float.NegativeInfinity) { new Span<float>(p, cols).Clear(); return; }
        float alpha = MathF.Exp(max - m), total = 0;
        var mv = Vector256.Create(m);
        var acc = Vector256<float>.Zero;
        int e = 0;
        for (; e + 8 <= visible; e += 8)
        {
            var x = Exp(Vector256.Load(p + e) - mv);
            x.Store(p + e);
            acc += x;
        }
        total = Vector256.Sum(acc);
        for (; e < visible; e++) total += p[e] = MathF.Exp(p[e] - m);
        for (; e < cols; e++) p[e] = 0;
        if (alpha != 1)
        {
            var av = Vector256.Create(alpha);
            int i = 0;
            for (; i + 8 <= d; i += 8) (Vector256.Load(o + i) * av).Store(o + i);
            for (; i < d; i++) o[i] *= alpha;
        }
        sum = sum * alpha + total;
        max = m;
    }

    /// <summary>
    /// Keys c0.. (cols of them, at most KeyTile) from kt ([d, s] rows, kt pointing at column c0) into panels of 16 keys,
    /// [cols/16][d][16], zero past cols: the score kernel then reads each panel (4 KiB at d 64) front to back from L1.
    /// </summary>
    private static void PackKeys(float* kt, int s, int cols, int d, float* panels)
    {
        for (int i = 0; i < d; i++)
            for (int c = 0; c < cols; c += 16)
            {
                float* dst = panels + (c / 16) * d * 16 + i * 16;
                int n = Math.Min(16, cols - c);
                Buffer.MemoryCopy(kt + (long)i * s + c, dst, 64, n * 4L);
                for (int e = n; e < 16; e++) dst[e] = 0;
            }
    }

    /// <summary>Values [cols, d] (rows of d) into panels of 16 columns, [d/16][KeyTile][16] (whole panels only; the rest of a head width that is not a multiple of 16 is read in place).</summary>
    private static void PackValues(float* v, int cols, int d, float* panels)
    {
        for (int j = 0; j < cols; j++)
            for (int c = 0; c + 16 <= d; c += 16)
            {
                float* dst = panels + (c / 16) * KeyTile * 16 + j * 16;
                Vector256.Load(v + (long)j * d + c).Store(dst);
                Vector256.Load(v + (long)j * d + c + 8).Store(dst + 8);
            }
    }

    /// <summary>s [rows, KeyTile] = q [rows, d] k^T over the first wide columns, below each register tile's limit (rounded up to 16), keys in panels (<see cref="PackKeys"/>; rows a multiple of <see cref="Rows"/>, wide of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Scores(float* q, int rows, float* panels, int wide, int d, int[] limit, float* s)
    {
        for (int c = 0; c < wide; c += 16)
            for (int r = 0; r < rows; r += Rows)
                if (c < limit[r / Rows]) Tile6x16(q + r * d, d, panels + (c / 16) * d * 16, d, s + r * KeyTile + c, KeyTile, accumulate: false);
    }

    /// <summary>o [rows, d] += p [rows, KeyTile] v [KeyTile, d] over each register tile's first limit columns: whole 16-column panels from <paramref name="panels"/> (<see cref="PackValues"/>), the rest from v (rows a multiple of <see cref="Rows"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Accumulate(float* p, int rows, float* panels, float* v, int[] limit, int d, float* o)
    {
        for (int c = 0; c + 16 <= d; c += 16)
            for (int r = 0; r < rows; r += Rows)
                Tile6x16(p + r * KeyTile, KeyTile, panels + (c / 16) * KeyTile * 16, limit[r / Rows], o + r * d + c, d, accumulate: true);
        for (int c = d / 16 * 16; c < d; c++) // head widths that are not a multiple of 16 (small test models)
            for (int r = 0; r < rows; r++)
            {
                float sum = o[r * d + c];
                for (int j = 0; j < limit[r / Rows]; j++) sum += p[r * KeyTile + j] * v[j * d + c];
                o[r * d + c] = sum;
            }
    }

    /// <summary>
    /// The register tile both products run on: c [6, 16] (rows ldc apart) = (c if accumulate, else 0) + a [6, n] (rows lda
    /// apart) b [n, 16] (a panel: rows 16 apart), with 12 accumulators of fused multiply-adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void Tile6x16(float* a, int lda, float* b, int n, float* c, int ldc, bool accumulate)
    {
        float* a0 = a, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda;
        float* c0 = c, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc, c4 = c3 + ldc, c5 = c4 + ldc;
        Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default,
            s30 = default, s31 = default, s40 = default, s41 = default, s50 = default, s51 = default;
        if (accumulate)
        {
            s00 = Vector256.Load(c0); s01 = Vector256.Load(c0 + 8); s10 = Vector256.Load(c1); s11 = Vector256.Load(c1 + 8);
            s20 = Vector256.Load(c2); s21 = Vector256.Load(c2 + 8); s30 = Vector256.Load(c3); s31 = Vector256.Load(c3 + 8);
            s40 = Vector256.Load(c4); s41 = Vector256.Load(c4 + 8); s50 = Vector256.Load(c5); s51 = Vector256.Load(c5 + 8);
        }
        for (int i = 0; i < n; i++, b += 16)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[i]);
            s00 = Vector256.FusedMultiplyAdd(x, b0, s00);
            s01 = Vector256.FusedMultiplyAdd(x, b1, s01);
            x = Vector256.Create(a1[i]);
            s10 = Vector256.FusedMultiplyAdd(x, b0, s10);
            s11 = Vector256.FusedMultiplyAdd(x, b1, s11);
            x = Vector256.Create(a2[i]);
            s20 = Vector256.FusedMultiplyAdd(x, b0, s20);
            s21 = Vector256.FusedMultiplyAdd(x, b1, s21);
            x = Vector256.Create(a3[i]);
            s30 = Vector256.FusedMultiplyAdd(x, b0, s30);
            s31 = Vector256.FusedMultiplyAdd(x, b1, s31);
            x = Vector256.Create(a4[i]);
            s40 = Vector256.FusedMultiplyAdd(x, b0, s40);
            s41 = Vector256.FusedMultiplyAdd(x, b1, s41);
            x = Vector256.Create(a5[i]);
            s50 = Vector256.FusedMultiplyAdd(x, b0, s50);
            s51 = Vector256.FusedMultiplyAdd(x, b1, s51);
        }
        s00.Store(c0); s01.Store(c0 + 8); s10.Store(c1); s11.Store(c1 + 8); s20.Store(c2); s21.Store(c2 + 8);
        s30.Store(c3); s31.Store(c3 + 8); s40.Store(c4); s41.Store(c4 + 8); s50.Store(c5); s51.Store(c5 + 8);
    }

    /// <summary>e^x for x &lt;= 0 (scores minus their max), to ~2 ulp: 2^n e^r with r in [-ln2/2, ln2/2] and a degree-6 polynomial; below -87 it is 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Max(x, Vector256.Create(-87.3f));
        var n = Vector256.Round(x * Vector256.Create(1.44269504f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693145752f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-1.42860677e-6f), r);
        var p = Vector256.Create(1.3981999e-3f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r * r, r + Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return p * scale;
    }
}
