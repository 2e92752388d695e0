using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis;

/// <summary>Helpers for scores that read the probes' attention patterns.</summary>
internal static class PatternStats
{
    /// <summary>Averages a per-head statistic [H] of each (document, layer) pattern [H, T, T] over the documents.</summary>
    public static double[][] MeanOverProbes(ProfileContext ctx, Func<Tensor, int, Tensor> perHead)
    {
        var values = HeadMap.Zeros(ctx.Spec.Layers, ctx.Spec.Heads);
        var patterns = ctx.Patterns;
        foreach (var doc in patterns)
            for (int l = 0; l < ctx.Spec.Layers; l++)
            {
                using var scope = torch.NewDisposeScope();
                var v = perHead(doc[l], l).to_type(ScalarType.Float64).data<double>().ToArray();
                for (int h = 0; h < v.Length; h++) values[l][h] += v[h] / patterns.Count;
            }
        return values;
    }

    /// <summary>|t - s| for query t, key s: [T, S].</summary>
    public static Tensor Distance(long t, long s) =>
        (torch.arange(t, dtype: ScalarType.Float32).unsqueeze(1) - torch.arange(s, dtype: ScalarType.Float32).unsqueeze(0)).abs();

    /// <summary>For each key s: how many queries count as its "future" (t &gt; s for decoders, t != s for encoders): [S].</summary>
    public static Tensor FutureMask(long t, bool causal) =>
        causal ? torch.ones(t, t).tril(-1) : torch.ones(t, t) - torch.eye(t);
}
