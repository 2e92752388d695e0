using System.Text.Json.Nodes;
using HeadWise.Models;

namespace HeadWise.Analysis.Scores;

/// <summary>Mean attention entropy in nats over queries: low for focused heads, log(keys) for uniform ones.</summary>
public sealed class EntropyScore : IHeadScore
{
    public string Name => "entropy";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        var values = PatternStats.MeanOverProbes(ctx, (p, _) => (p * p.clamp_min(HeldScalars.ProbabilityFloor).log()).sum(-1).neg().mean([1]));
        return [new HeadMap(Name, values, new JsonObject { ["unit"] = "nats" })];
    }
}
