using System.Runtime.CompilerServices;
using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// One decode step's attention, softmax(q k^T / sqrt(d)) v for a single query per head over every cached key, read
/// straight from the cache's memory (float32 or bf16 keys and values, widened exactly) with float32 scores, softmax and
/// sums. Why not libtorch: at one query its scaled_dot_product_attention costs ~0.7 ms per layer on a bf16 cache of 512
/// positions (12 heads of 64), ten times the arithmetic; this reads each key and value once.
/// Grouped-query heads share their KV head's rows. Only for inference (no autograd): <see cref="Applies"/> says when.
/// </summary>
internal static unsafe class DecodeAttention
{
    public static bool Applies(Tensor q, Tensor k, Tensor v) =>
        q.dim() == 4 && q.shape[0] == 1 && q.shape[2] == 1 && k.shape[0] == 1 && k.dtype == v.dtype &&
        (k.dtype == ScalarType.Float32 || k.dtype == ScalarType.BFloat16) && k.stride(-1) == 1 && v.stride(-1) == 1 &&
        k.device_type == DeviceType.CPU && !q.requires_grad && !k.requires_grad && !v.requires_grad;

    /// <summary>q [1, H, 1, d], k and v [1, KvH, S, d] (H a multiple of KvH) → [1, H, 1, d] in q's dtype.</summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        int heads = (int)q.shape[1], kvHeads = (int)k.shape[1], d = (int)q.shape[3], s = (int)k.shape[2];
        int group = heads / kvHeads;
        var qf = (q.dtype == ScalarType.Float32 ? q : q.to(ScalarType.Float32)).contiguous();
        var z = torch.empty([1, heads, 1, d], ScalarType.Float32);
        long es = k.ElementSize, ve = v.ElementSize;
        Heads(TensorMemory.Address<float>(qf), heads, group, TensorMemory.Address<byte>(k), k.stride(1) * es, k.stride(2) * es,
            TensorMemory.Address<byte>(v), v.stride(1) * ve, v.stride(2) * ve, k.dtype == ScalarType.BFloat16, d, s, TensorMemory.Address<float>(z));
        GC.KeepAlive(qf);
        GC.KeepAlive(k);
        GC.KeepAlive(v);
        return q.dtype == ScalarType.Float32 ? z : z.to(q.dtype);
    }

    /// <summary>
    /// Every query head's attention: q [heads, d] float32, keys and values of KV head g at k + g kHead + j kRow (bytes),
    /// s positions, bf16 or float32; z [heads, d] float32. Query head h reads KV head h / group.
    /// </summary>
    internal static void Heads(float* q, int heads, int group, byte* k, long kHead, long kRow, byte* v, long vHead, long vRow, bool bf16, int d, int s, float* z)
    {
        float scale = 1f / MathF.Sqrt(d);
        int threads = Math.Max(1, torch.get_num_threads());
        void Head(int h)
        {
            int g = h / group;
            var scratch = ArrayPool<float>.Shared.Rent(s + 2 * d);
            fixed (float* sp = scratch)
                One(q + (long)h * d, k + g * kHead, kRow, v + g * vHead, vRow, bf16, d, s, scale, sp, sp + s, sp + s + d, z + (long)h * d);
            ArrayPool<float>.Shared.Return(scratch);
        }
        if (threads == 1 || heads == 1)
            for (int h = 0; h < heads; h++) Head(h);
        else
            Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = threads }, Head);
    }

    /// <summary>Whether a head's rows go through the 512-bit kernels (blocks of 32 elements; else 8-wide with a tail).</summary>
    private static bool Wide(int d) => Vector512.IsHardwareAccelerated && d % Block == 0;

    private const int Block = 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void One(float* q, byte* k, long kRow, byte* v, long vRow, bool bf16, int d, int s, float scale, float* scores, float* acc, float* tmp, float* z)
    {
        bool wide = Wide(d);
        // A bf16 row block is read as 16 pairs: the even elements are each pair's low half shifted up, the odd ones its
        // high half masked (one operation per 16 floats, no shuffles), so q is laid out once as evens then odds per block.
        if (wide && bf16) Bf16Order.Split(q, tmp, d);
        int rowBytes = d * (bf16 ? sizeof(ushort) : sizeof(float));
        for (int j = 0; j < s; j++)
        {
            // The values are read after the keys: fetching each value row beside its key keeps two streams in flight
            // (0.97 against 1.5 ms per step of 12 layers x 12 heads x 544 bf16 positions, measured in alternating rounds).
            if (Sse.IsSupported)
                for (int b = 0; b < rowBytes; b += 64) Sse.Prefetch0(v + j * vRow + b);
            scores[j] = scale * (wide ? bf16 ? DotBf16Wide(tmp, (uint*)(k + j * kRow), d) : DotF32Wide(q, (float*)(k + j * kRow), d)
                                      : bf16 ? DotBf16(q, (ushort*)(k + j * kRow), d) : DotF32(q, (float*)(k + j * kRow), d));
        }
        float max = float.NegativeInfinity;
        for (int j = 0; j < s; j++) max = MathF.Max(max, scores[j]);
        float sum = 0;
        int e = 0;
        var m = Vector256.Create(max);
        for (; e + 8 <= s; e += 8)
        {
            var p = Vector256.Exp(Vector256.Load(scores + e) - m);
            p.Store(scores + e);
            sum += Vector256.Sum(p);
        }
        for (; e < s; e++) sum += scores[e] = MathF.Exp(scores[e] - max);
        // A bf16 cache's weights are rounded to bf16 before they multiply the values (the sum stays unrounded), as
        // libtorch's and llama.cpp's 16-bit attention do: the general path's numbers, so bf16 decode keeps its parity.
        if (bf16) Bf16Order.Round(scores, s);
        if (wide)
            for (int c = 0; c < d; c += Block)
                if (bf16) ValuesBf16Wide(scores, v + c * sizeof(ushort), vRow, s, tmp + c);
                else ValuesF32Wide(scores, v + c * sizeof(float), vRow, s, acc + c);
        else
        {
            new Span<float>(acc, d).Clear();
            for (int j = 0; j < s; j++)
                if (bf16) AxpyBf16(scores[j], (ushort*)(v + j * vRow), acc, d);
                else AxpyF32(scores[j], (float*)(v + j * vRow), acc, d);
        }
        if (wide && bf16) Bf16Order.Merge(tmp, acc, d);
        float inv = 1f / sum;
        for (int i = 0; i < d; i++) z[i] = acc[i] * inv;
    }

    /// <summary>q (evens then odds per block of 32, see <see cref="Bf16Order"/>) times a bf16 row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotBf16Wide(float* q, uint* row, int d)
    {
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0;
        for (int i = 0; i < d; i += Block)
        {
            var pairs = Vector512.Load(row + i / 2);
            a0 = Vector512.FusedMultiplyAdd(Bf16Order.Evens(pairs), Vector512.Load(q + i), a0);
            a1 = Vector512.FusedMultiplyAdd(Bf16Order.Odds(pairs), Vector512.Load(q + i + 16), a1);
        }
        return Vector512.Sum(a0 + a1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotF32Wide(float* q, float* row, int d)
    {
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0;
        for (int i = 0; i < d; i += Block)
        {
            a0 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i), Vector512.Load(q + i), a0);
            a1 = Vector512.FusedMultiplyAdd(Vector512.Load(row + i + 16), Vector512.Load(q + i + 16), a1);
        }
        return Vector512.Sum(a0 + a1);
    }

    /// <summary>
    /// out[0..32) = sum over j of p[j] times the 32 bf16 values at v + j vRow (evens then odds), summed in registers: two
    /// keys per pass into separate sums, so one key's multiply-add does not wait on the last.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValuesBf16Wide(float* p, byte* v, long vRow, int s, float* output)
    {
        Vector512<float> e0 = Vector512<float>.Zero, o0 = e0, e1 = e0, o1 = e0;
        int j = 0;
        for (; j + 2 <= s; j += 2)
        {
            var a = Vector512.Load((uint*)(v + j * vRow));
            var b = Vector512.Load((uint*)(v + (j + 1) * vRow));
            var pa = Vector512.Create(p[j]);
            var pb = Vector512.Create(p[j + 1]);
            e0 = Vector512.FusedMultiplyAdd(pa, Bf16Order.Evens(a), e0);
            o0 = Vector512.FusedMultiplyAdd(pa, Bf16Order.Odds(a), o0);
            e1 = Vector512.FusedMultiplyAdd(pb, Bf16Order.Evens(b), e1);
            o1 = Vector512.FusedMultiplyAdd(pb, Bf16Order.Odds(b), o1);
        }
        if (j < s)
        {
            var a = Vector512.Load((uint*)(v + j * vRow));
            var pa = Vector512.Create(p[j]);
            e0 = Vector512.FusedMultiplyAdd(pa, Bf16Order.Evens(a), e0);
            o0 = Vector512.FusedMultiplyAdd(pa, Bf16Order.Odds(a), o0);
        }
        (e0 + e1).Store(output);
        (o0 + o1).Store(output + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValuesF32Wide(float* p, byte* v, long vRow, int s, float* output)
    {
        Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, b0 = a0, b1 = a0;
        int j = 0;
        for (; j + 2 <= s; j += 2)
        {
            float* ra = (float*)(v + j * vRow), rb = (float*)(v + (j + 1) * vRow);
            var pa = Vector512.Create(p[j]);
            var pb = Vector512.Create(p[j + 1]);
            a0 = Vector512.FusedMultiplyAdd(pa, Vector512.Load(ra), a0);
            a1 = Vector512.FusedMultiplyAdd(pa, Vector512.Load(ra + 16), a1);
            b0 = Vector512.FusedMultiplyAdd(pb, Vector512.Load(rb), b0);
            b1 = Vector512.FusedMultiplyAdd(pb, Vector512.Load(rb + 16), b1);
        }
        if (j < s)
        {
            float* ra = (float*)(v + j * vRow);
            var pa = Vector512.Create(p[j]);
            a0 = Vector512.FusedMultiplyAdd(pa, Vector512.Load(ra), a0);
            a1 = Vector512.FusedMultiplyAdd(pa, Vector512.Load(ra + 16), a1);
        }
        (a0 + b0).Store(output);
        (a1 + b1).Store(output + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotF32(float* a, float* b, int n)
    {
        int i = 0;
        var s = Vector256<float>.Zero;
        for (; i + 8 <= n; i += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s);
        float sum = Vector256.Sum(s);
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotBf16(float* a, ushort* b, int n)
    {
        int i = 0;
        var s = Vector256<float>.Zero;
        for (; i + 8 <= n; i += 8) s = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Widen(b + i), s);
        float sum = Vector256.Sum(s);
        for (; i < n; i++) sum += a[i] * ToFloat(b[i]);
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyF32(float p, float* x, float* acc, int n)
    {
        int i = 0;
        var pv = Vector256.Create(p);
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(pv, Vector256.Load(x + i), Vector256.Load(acc + i)).Store(acc + i);
        for (; i < n; i++) acc[i] += p * x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyBf16(float p, ushort* x, float* acc, int n)
    {
        int i = 0;
        var pv = Vector256.Create(p);
        for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(pv, Widen(x + i), Vector256.Load(acc + i)).Store(acc + i);
        for (; i < n; i++) acc[i] += p * ToFloat(x[i]);
    }

    private static float ToFloat(ushort b) => BitConverter.Int32BitsToSingle(b << 16);

    /// <summary>Eight bf16 values as floats, exactly (a bf16 is a float's upper half).</summary>
    private static Vector256<float> Widen(ushort* p) =>
        Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()), 16).AsSingle();
}
