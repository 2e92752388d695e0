using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Attribution;

/// <summary>The unembedding direction of a target token, minus a contrast token's when given (a logit difference), in float64.</summary>
internal static class LogitDirection
{
    public static Tensor Of(Transformer model, int target, int? contrast)
    {
        var spec = model.Spec;
        if (!spec.Causal) throw new HeadWiseException($"{spec.Architecture} is an encoder: it has no logits to attribute");
        foreach (var t in new[] { (int?)target, contrast })
            if (t is < 0 || t >= spec.VocabSize) throw new HeadWiseException($"token id {t} is out of range (vocabulary {spec.VocabSize})");
        var u = model.Weights.Output![target].to(ScalarType.Float64);
        return contrast is { } c ? u - model.Weights.Output![c].to(ScalarType.Float64) : u;
    }

    /// <summary>logit[target] − logit[contrast] at <paramref name="position"/> of batch row 0.</summary>
    public static double Metric(Tensor logits, int target, int? contrast, long position)
    {
        var row = logits[0, position];
        double v = row[target].ToSingle();
        return contrast is { } c ? v - row[c].ToSingle() : v;
    }

    public static long ResolvePosition(long position, long length)
    {
        long p = position < 0 ? length + position : position;
        if (p < 0 || p >= length) throw new HeadWiseException($"position {position} is outside the prompt's {length} tokens");
        return p;
    }
}
