using System.Text.Json.Nodes;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// "Attention Illuminates LLM Reasoning": windowed average attention distance, WAAD_t = sum_s A[t,s] min(|t-s|, W), averaged
/// over queries (a previous-token head scores about 1; global heads approach W); and future attention influence,
/// FAI_s = mean over later queries of A[t,s]. A head's FAI is its strongest anchor: the maximum FAI over keys s &gt;= 1
/// that have at least W later queries (position 0 is the sink, reported by <see cref="SinkScore"/>).
/// </summary>
public sealed class LocalityScore(int window = 10) : IHeadScore
{
    public string Name => "locality";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        long t = ctx.Probes[0].Length;
        if (t < window + 2) throw new HeadWiseException($"locality needs probes of at least {window + 2} tokens (window {window}); they have {t}");
        var waad = PatternStats.MeanOverProbes(ctx, (p, _) => (p * PatternStats.Distance(t, t).clamp_max(window)).sum(-1).mean([1]));
        var fai = PatternStats.MeanOverProbes(ctx, (p, _) => Fai(p, t, ctx.Spec.Causal, window));
        var ps = new JsonObject { ["window"] = window };
        return [new HeadMap("waad", waad, ps), new HeadMap("fai", fai, (JsonObject)ps.DeepClone())];
    }

    /// <summary>Per head: max over keys 1..T-1-W of the mean attention from their future queries.</summary>
    internal static TorchSharp.torch.Tensor Fai(TorchSharp.torch.Tensor p, long t, bool causal, int window)
    {
        var future = PatternStats.FutureMask(t, causal);
        var perKey = (p * future).sum(1) / future.sum(dim: 0L).clamp_min(HeldScalars.One); // [H, S]
        return perKey.narrow(1, 1, t - 1 - window).amax([1]);
    }
}
