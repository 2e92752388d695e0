using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Models;

/// <summary>
/// One decode step (one token after a <see cref="FullKvCache"/>) of a pre-norm RMSNorm/SwiGLU/RoPE decoder (Llama,
/// Mistral, Qwen2; softmax attention without a trained variant) with no hooks, as one pass over the weights in C#: the same steps and the same roundings as
/// <see cref="Transformer.Forward"/> (bf16: the inputs of the q/k/v and gate/up products, q, k, v and the attention
/// output rounded to bf16; everything else float32), with the same product and attention kernels
/// (<see cref="DecodeGemv"/>, <see cref="DecodeAttention"/>). Why: a decode step through libtorch is ~40 tensor
/// operations per layer, each a few microseconds of dispatch and allocation around a few microseconds of work; on a
/// ~110M model that was a third of the step. Anything else (hooks, other caches, other families, autograd) takes the
/// general path: <see cref="Applies"/> says when this one runs.
/// </summary>
internal static unsafe class FusedDecode
{
    public static bool Applies(ModelSpec spec, ModelWeights w, Rope? rope, Tensor tokens, IKvCache? cache, IForwardHooks? hooks)
    {
        if (hooks is not null || cache is not FullKvCache full || rope is null || tokens.shape[0] != 1 || tokens.shape[1] != 1) return false;
        if (!spec.Causal || spec.PostNorm || spec.Norm != NormKind.RmsNorm || spec.FeedForward != FeedForwardKind.SwiGlu || spec.QkNorm ||
            spec.Positions != PositionKind.Rope || spec.Attention is not null || full.Length + 1 > rope.MaxPositions) return false;
        // ggml activation rounding happens in Transformer.Linear, which the fused step does not call.
        if (w.RoundsActivations || w.PositionEmbedding is not null || w.TokenTypeEmbedding is not null || w.EmbeddingNorm is not null ||
            !Vector(w.OutputNorm) || !Matrix(w.Output) || !Matrix(w.TokenEmbedding)) return false;
        foreach (var l in w.Layers)
            if (!Vector(l.AttnNorm) || !Vector(l.FfnNorm) || !Matrix(l.Wq) || !Matrix(l.Wk) || !Matrix(l.Wv) || !Matrix(l.Wo) ||
                !Matrix(l.WGate) || !Matrix(l.WUp) || !Matrix(l.WDown) || !Bias(l.Bq) || !Bias(l.Bk) || !Bias(l.Bv) || !Bias(l.Bo) ||
                !Bias(l.BGate) || !Bias(l.BUp) || !Bias(l.BDown)) return false;
        return true;
    }

    private static bool Matrix(Tensor? t) =>
        t is not null && (t.dtype == ScalarType.Float32 || t.dtype == ScalarType.BFloat16) && t.dim() == 2 && t.is_contiguous() &&
        t.device_type == DeviceType.CPU && !t.requires_grad;

    private static bool Vector(Tensor? t) =>
        t is not null && t.dtype == ScalarType.Float32 && t.dim() == 1 && t.is_contiguous() && t.device_type == DeviceType.CPU && !t.requires_grad;

    private static bool Bias(Tensor? t) => t is null || Vector(t);

    /// <summary>Logits [1, 1, vocab] (float32) of <paramref name="token"/> at the cache's next position; appends its keys and values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor Step(ModelSpec spec, ModelWeights w, Rope rope, float normEps, long token, FullKvCache cache)
    {
        if (token < 0 || token >= w.TokenEmbedding.shape[0])
            throw new HeadWiseException($"token id {token} is outside the model's table of {w.TokenEmbedding.shape[0]}");
        bool round = spec.Compute == ComputeDType.BF16; // what the general path's casts to the compute dtype do
        int dim = spec.Dim, hd = spec.HeadDim, heads = spec.Heads, kvHeads = spec.KvHeads, ffn = spec.FfnDim;
        long pos = cache.Length;
        var (cosT, sinT, layout) = rope.TablesCovering(pos + 1);
        float* cos = Address(cosT) + pos * (hd / 2), sin = Address(sinT) + pos * (hd / 2);
        // Rented: a fresh array per token is garbage for the collector to chase mid-decode.
        var buffer = ArrayPool<float>.Shared.Rent(dim * 3 + spec.QDim * 2 + spec.KvDim * 2 + ffn * 2);
        var logits = torch.empty([1, 1, w.Output.shape[0]], ScalarType.Float32);
        fixed (float* b = buffer)
        {
            float* x = b, xn = x + dim, a = xn + dim, q = a + dim, z = q + spec.QDim, k = z + spec.QDim, v = k + spec.KvDim,
                g = v + spec.KvDim, u = g + ffn;
            Row(w.TokenEmbedding, token, x, dim);
            for (int l = 0; l < spec.Layers; l++)
            {
                var lw = w.Layers[l];
                RmsNorm(x, lw.AttnNorm!, normEps, xn, dim, round);
                Product(xn, lw.Wq, lw.Bq, q);
                Product(xn, lw.Wk, lw.Bk, k);
                Product(xn, lw.Wv, lw.Bv, v);
                Rotate(q, heads, hd, cos, sin, layout);
                Rotate(k, kvHeads, hd, cos, sin, layout);
                if (round) { Bf16Order.Round(q, spec.QDim); Bf16Order.Round(k, spec.KvDim); Bf16Order.Round(v, spec.KvDim); }
                var (kc, vc) = cache.Reserve(l, 1);
                long capacity = kc.shape[2], es = kc.ElementSize;
                byte* kp = (byte*)Address(kc), vp = (byte*)Address(vc);
                for (int h = 0; h < kvHeads; h++)
                {
                    long at = (h * capacity + pos) * hd;
                    Store(k + h * hd, kp, at, hd, round);
                    Store(v + h * hd, vp, at, hd, round);
                }
                DecodeAttention.Heads(q, heads, spec.GroupSize, kp, capacity * hd * es, hd * es, vp, capacity * hd * es, hd * es, round, hd,
                    (int)pos + 1, z);
                GC.KeepAlive(kc);
                GC.KeepAlive(vc);
                if (round) Bf16Order.Round(z, spec.QDim);
                Product(z, lw.Wo, lw.Bo, a);
                Add(x, a, dim);
                RmsNorm(x, lw.FfnNorm!, normEps, xn, dim, round);
                Product(xn, lw.WGate!, lw.BGate, g);
                Product(xn, lw.WUp, lw.BUp, u);
                SwiGlu(g, u, g, ffn);
                Product(g, lw.WDown, lw.BDown, a);
                Add(x, a, dim);
            }
            cache.Advance(1);
            RmsNorm(x, w.OutputNorm!, normEps, xn, dim, round: false);
            Product(xn, w.Output, null, Address(logits));
        }
        ArrayPool<float>.Shared.Return(buffer);
        GC.KeepAlive(logits);
        return logits;
    }

    private static float* Address(Tensor t) => TensorMemory.Address<float>(t);

    /// <summary>y = W x (+ b), float32 out.</summary>
    private static void Product(float* x, Tensor weight, Tensor? bias, float* y)
    {
        long rows = weight.shape[0], cols = weight.shape[1];
        DecodeGemv.Multiply(x, 1, TensorMemory.Address<byte>(weight), weight.dtype == ScalarType.BFloat16, rows, cols, y);
        GC.KeepAlive(weight);
        if (bias is null) return;
        Add(y, Address(bias), (int)rows);
        GC.KeepAlive(bias);
    }

    private static void Row(Tensor table, long id, float* to, int dim)
    {
        if (table.dtype == ScalarType.BFloat16)
        {
            ushort* r = TensorMemory.Address<ushort>(table) + id * dim;
            for (int i = 0; i < dim; i++) to[i] = BitConverter.Int32BitsToSingle(r[i] << 16);
        }
        else new ReadOnlySpan<float>(Address(table) + id * dim, dim).CopyTo(new Span<float>(to, dim));
        GC.KeepAlive(table);
    }

    // The general path runs its one-row steps through these same kernels (RmsNorm, RoPE, SwiGLU; the products and the
    // attention are shared anyway), so a decode step with hooks (or another cache) gives this step's numbers bit for bit.

    /// <summary>One row of float32 without autograd: where the general path uses the decode kernels below.</summary>
    internal static bool OneRow(Tensor x, long rowLength) =>
        x.NumberOfElements == rowLength && x.dtype == ScalarType.Float32 && !x.requires_grad && x.device_type == DeviceType.CPU;

    /// <summary>RMSNorm of one row x [.., D] with a float32 gain (see <see cref="OneRow"/>).</summary>
    internal static Tensor RmsNorm(Tensor x, Tensor gain, float eps)
    {
        var input = x.contiguous();
        var y = torch.empty(x.shape, ScalarType.Float32);
        RmsNorm(Address(input), gain, eps, Address(y), (int)x.shape[^1], round: false);
        GC.KeepAlive(input);
        return y;
    }

    /// <summary>silu(gate) * up of one row each (see <see cref="OneRow"/>).</summary>
    internal static Tensor SwiGlu(Tensor gate, Tensor up)
    {
        var (g, u) = (gate.contiguous(), up.contiguous());
        var y = torch.empty(gate.shape, ScalarType.Float32);
        SwiGlu(Address(g), Address(u), Address(y), (int)gate.NumberOfElements);
        GC.KeepAlive(g);
        GC.KeepAlive(u);
        return y;
    }

    /// <summary>x [1, heads, 1, d] (float32) rotated by the angles at cos/sin (one position's row of the tables).</summary>
    internal static Tensor Rotate(Tensor x, float* cos, float* sin, RopeLayout layout)
    {
        var y = x.contiguous().clone();
        Rotate(Address(y), (int)x.shape[1], (int)x.shape[3], cos, sin, layout);
        return y;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwiGlu(float* g, float* u, float* y, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (var one = Vector256<float>.One; i + 8 <= n; i += 8)
            {
                var x = Vector256.Load(g + i);
                (x / (one + Vector256.Exp(-x)) * Vector256.Load(u + i)).Store(y + i);
            }
        for (; i < n; i++) y[i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];
    }

    /// <summary>x times 1/sqrt(mean(x^2) + eps), times the gain; then the cast to bf16 where the general path casts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsNorm(float* x, Tensor gain, float eps, float* y, int n, bool round)
    {
        float* w = Address(gain);
        float sum = 0;
        for (int i = 0; i < n; i++) sum += x[i] * x[i];
        float r = 1f / MathF.Sqrt(sum / n + eps);
        for (int i = 0; i < n; i++) y[i] = x[i] * r * w[i];
        GC.KeepAlive(gain);
        if (round) Bf16Order.Round(y, n);
    }

    /// <summary>Rotates each head's pairs by the position's angles (adjacent pairs or halves, as <see cref="Rope"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rotate(float* x, int heads, int hd, float* cos, float* sin, RopeLayout layout)
    {
        int half = hd / 2;
        for (int h = 0; h < heads; h++)
        {
            float* p = x + h * hd;
            for (int i = 0; i < half; i++)
            {
                int i0 = layout == RopeLayout.Interleaved ? 2 * i : i, i1 = layout == RopeLayout.Interleaved ? 2 * i + 1 : i + half;
                float x0 = p[i0], x1 = p[i1];
                p[i0] = x0 * cos[i] - x1 * sin[i];
                p[i1] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }

    private static void Store(float* from, byte* cache, long at, int n, bool bf16)
    {
        if (!bf16) { new ReadOnlySpan<float>(from, n).CopyTo(new Span<float>((float*)cache + at, n)); return; }
        ushort* to = (ushort*)cache + at;
        for (int i = 0; i < n; i++) to[i] = (ushort)(BitConverter.SingleToUInt32Bits(from[i]) >> 16); // already rounded
    }

    private static void Add(float* x, float* y, int n)
    {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }
}
