using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// What ggml's CPU backend does to a matrix product's input before multiplying it by a weight of a given type: it
/// converts the activation row to the weight type's "vec_dot type" and runs the dot product on that. For quantized
/// weights that is an 8-bit block format (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the k-quants), for
/// F16/BF16 weights the 16-bit float. F32 weights take F32 activations unchanged.
/// </summary>
public enum GgmlActivation { None, Q8_0, Q8_1, Q8_K, F16, BF16 }

/// <summary>
/// Rounds activations as llama.cpp's x86 CPU backend does before its dot products (ggml-cpu/arch/x86/quants.c,
/// quantize_row_q8_0/q8_1 with AVX; quantize_row_q8_K is the reference form on x86), and returns the rounded values:
/// the block scale times each 8-bit integer. A product of these values with the dequantised weight is llama.cpp's
/// integer dot product up to float summation order, with one more term for Q8_1: its blocks also store
/// s = fp16(d * sum q) with the unrounded d, which llama.cpp multiplies by the Q4_1/Q5_1 weight block's minimum where
/// the rounded values give fp16(d) * sum q; <see cref="GgmlProduct"/> adds the difference.
/// </summary>
public static class GgmlActivations
{
    /// <summary>The activation format ggml's CPU backend uses against a weight stored as <paramref name="weight"/>.</summary>
    public static GgmlActivation For(GgmlType weight) => weight switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => GgmlActivation.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlActivation.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlActivation.Q8_K,
        GgmlType.F16 => GgmlActivation.F16,
        GgmlType.BF16 => GgmlActivation.BF16,
        _ => GgmlActivation.None,
    };

    /// <summary>Elements per block along the row (1 for the float formats).</summary>
    public static int BlockSize(GgmlActivation f) => f switch
    {
        GgmlActivation.Q8_0 or GgmlActivation.Q8_1 => 32,
        GgmlActivation.Q8_K => 256,
        _ => 1,
    };

    /// <summary>
    /// Rows of <paramref name="x"/> (float32, last dimension the product's input) rounded to <paramref name="format"/>,
    /// as a new float32 tensor of the same shape. For Q8_1, <paramref name="sumCorrection"/> is, per block
    /// [..., blocks], the stored sum s minus what the rounded values sum to (fp16(d) * sum q); null otherwise.
    /// </summary>
    public static Tensor Round(Tensor x, GgmlActivation format, out Tensor? sumCorrection)
    {
        sumCorrection = null;
        if (format == GgmlActivation.None) return x;
        if (x.dtype != ScalarType.Float32) throw new HeadWiseException("ggml activation rounding needs float32 activations (--dtype f32)");
        int n = (int)x.shape[^1], block = BlockSize(format);
        if (n % block != 0) throw new HeadWiseException($"a row of {n} values is not a whole number of {format} blocks of {block}");
        var values = x.contiguous().data<float>().ToArray();
        var corrections = format == GgmlActivation.Q8_1 ? new float[values.Length / block] : null;
        for (int b = 0, start = 0; start < values.Length; b++, start += block)
        {
            float c = RoundBlock(values.AsSpan(start, block), format);
            if (corrections is not null) corrections[b] = c;
        }
        if (corrections is not null) sumCorrection = torch.tensor(corrections, [.. x.shape[..^1], n / block]);
        return torch.tensor(values, x.shape);
    }

    /// <summary>One block in place (a float format: each value); for Q8_1 returns s - fp16(d) * sum q, else 0.</summary>
    public static float RoundBlock(Span<float> v, GgmlActivation format)
    {
        switch (format)
        {
            case GgmlActivation.Q8_0 or GgmlActivation.Q8_1: return Q8Legacy(v, format == GgmlActivation.Q8_1);
            case GgmlActivation.Q8_K: Q8K(v); break;
            case GgmlActivation.F16: for (int i = 0; i < v.Length; i++) v[i] = (float)(Half)v[i]; break;
            case GgmlActivation.BF16: for (int i = 0; i < v.Length; i++) v[i] = BFloat16.ToFloat(BFloat16.FromFloat(v[i])); break;
        }
        return 0;
    }

    /// <summary>
    /// Q8_0 / Q8_1 on x86: d = amax / 127 stored as float16; each value times 127 / amax (not 1 / d) rounded half to
    /// even (_mm256_round_ps), saturated to int8 (the packs). Q8_1 also stores s = fp16(d * sum q) with d unrounded.
    /// </summary>
    private static float Q8Legacy(Span<float> v, bool withSum)
    {
        float amax = 0;
        foreach (var x in v) amax = MathF.Max(amax, MathF.Abs(x));
        float d = amax / 127f, dh = (float)(Half)d;
        float id = amax != 0 ? 127f / amax : 0f;
        int sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            int q = Math.Clamp((int)MathF.Round(v[i] * id, MidpointRounding.ToEven), -128, 127);
            sum += q;
            v[i] = dh * q;   // from an int: q = 0 gives +0, as ggml's d * q does
        }
        return withSum ? (float)(Half)(d * sum) - dh * sum : 0;
    }

    /// <summary>
    /// Q8_K (ggml's quantize_row_q8_K_ref): the value of largest magnitude (the first one, with its sign) maps to -127:
    /// iscale = -127 / max; q = min(127, round half to even (iscale * x)); d = 1 / iscale kept as float32.
    /// </summary>
    private static void Q8K(Span<float> v)
    {
        float amax = 0, max = 0;
        foreach (var x in v)
            if (MathF.Abs(x) > amax) { amax = MathF.Abs(x); max = x; }
        if (amax == 0) { v.Clear(); return; }
        float iscale = -127f / max, d = 1 / iscale;
        for (int i = 0; i < v.Length; i++) v[i] = d * Math.Min(127, (int)MathF.Round(iscale * v[i], MidpointRounding.ToEven));
    }
}

/// <summary>
/// A matrix product as ggml's CPU backend computes it for one weight: the input rounded to <see cref="Format"/>, and for
/// Q4_1/Q5_1 weights their block minimums [out, in/32] times each activation block's sum correction (see
/// <see cref="GgmlActivations.Round"/>), which makes the minimum meet llama.cpp's stored s.
/// </summary>
public sealed record GgmlProduct(GgmlActivation Format, Tensor? BlockMinimums)
{
    /// <summary>x W^T (no bias), float32.</summary>
    public Tensor Linear(Tensor x, Tensor weight)
    {
        var rounded = GgmlActivations.Round(x, Format, out var correction);
        var y = torch.nn.functional.linear(rounded, weight);
        return correction is null || BlockMinimums is null ? y : y.Plus(torch.nn.functional.linear(correction, BlockMinimums));
    }
}
