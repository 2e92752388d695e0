using System.Runtime.Intrinsics;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// ProxyAttn's token-level scoring after the q k^T product: each probe row's causal softmax, summed per key block, in
/// one pass over the scores (a max, then exponentials summed block by block) instead of libtorch's mask, softmax, pad
/// and sum, each of which writes a fresh copy of the [G, rows, keys] scores (they cost ~10x the product itself at
/// 8,192 tokens: docs/benchmarks.md, "Sparse prefill speed"). Inference only.
/// </summary>
internal static unsafe class ProxyScoreKernel
{
    /// <param name="scores">[G, R, K] float32 scaled logits; row r is the query at absolute position <paramref name="positions"/>[r] and sees keys 0 .. that position.</param>
    /// <param name="mass">[G, nQ, n] float32: row r's softmax mass per key block of <paramref name="block"/> positions is added at query block <paramref name="firstRowBlock"/> + r / <paramref name="probes"/>.</param>
    public static void AddBlockMass(Tensor scores, long[] positions, int probes, int block, Tensor mass, int firstRowBlock)
    {
        int groups = (int)scores.shape[0], rows = (int)scores.shape[1], keys = (int)scores.shape[2];
        int nq = (int)mass.shape[1], n = (int)mass.shape[2], rowBlocks = rows / probes;
        var s = scores.contiguous();
        float* sp = TensorMemory.Address<float>(s), mp = TensorMemory.Address<float>(mass);
        void Unit(int index) // one proxy and one query block: its probe rows add into the same mass row
        {
            int g = index / rowBlocks, i = index % rowBlocks;
            float* target = mp + ((long)g * nq + firstRowBlock + i) * n;
            for (int r = i * probes; r < (i + 1) * probes; r++)
                AddRow(sp + ((long)g * rows + r) * keys, (int)positions[r] + 1, block, target);
        }
        int units = groups * rowBlocks, threads = Math.Max(1, torch.get_num_threads());
        if (threads == 1) for (int u = 0; u < units; u++) Unit(u);
        else Parallel.For(0, units, new ParallelOptions { MaxDegreeOfParallelism = threads }, Unit);
        GC.KeepAlive(s);
        GC.KeepAlive(mass);
    }

    /// <summary>Adds softmax(x[0..visible)) summed per block of <paramref name="block"/> positions to target[0..].</summary>
    private static void AddRow(float* x, int visible, int block, float* target)
    {
        float max = Max(x, visible);
        int blocks = (visible + block - 1) / block;
        Span<float> sums = blocks <= 1024 ? stackalloc float[blocks] : new float[blocks];
        float total = 0;
        for (int b = 0; b < blocks; b++)
        {
            int from = b * block, to = Math.Min(visible, from + block);
            sums[b] = ExpSum(x + from, to - from, max);
            total += sums[b];
        }
        float inverse = 1f / total;
        for (int b = 0; b < blocks; b++) target[b] += sums[b] * inverse;
    }

    private static float Max(float* x, int count)
    {
        var m = Vector512.Create(float.NegativeInfinity);
        int j = 0;
        for (; j + 16 <= count; j += 16) m = Vector512.Max(m, Vector512.Load(x + j));
        float max = MaxOf(m);
        for (; j < count; j++) max = MathF.Max(max, x[j]);
        return max;
    }

    private static float MaxOf(Vector512<float> v)
    {
        float m = float.NegativeInfinity;
        for (int i = 0; i < 16; i++) m = MathF.Max(m, v[i]);
        return m;
    }

    /// <summary>Σ exp(x[j] - max) over j &lt; count.</summary>
    private static float ExpSum(float* x, int count, float max)
    {
        var shift = Vector512.Create(max);
        var acc = Vector512<float>.Zero;
        int j = 0;
        for (; j + 16 <= count; j += 16) acc += Vector512.Exp(Vector512.Load(x + j) - shift);
        float sum = Vector512.Sum(acc);
        for (; j < count; j++) sum += MathF.Exp(x[j] - max);
        return sum;
    }
}
