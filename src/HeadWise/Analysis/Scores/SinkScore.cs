using System.Text.Json.Nodes;
using HeadWise.Models;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Attention mass on the first token, averaged over queries ("When Attention Sink Emerges"); the atlas also records the
/// fraction of heads above the threshold (0.3), the paper's sink ratio, over all layers and over layers 1 and up (a
/// layer-0 head sees only token embeddings, so sinks form from layer 1 on; issue 18 counts those).
/// </summary>
public sealed class SinkScore(double threshold = 0.3) : IHeadScore
{
    public string Name => "sink";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        var values = PatternStats.MeanOverProbes(ctx, (p, _) => p.select(2, 0).mean([1]));
        double ratio = values.SelectMany(r => r).Count(v => v > threshold) / (double)(ctx.Spec.Layers * ctx.Spec.Heads);
        var upper = values.Skip(1).SelectMany(r => r).ToList();
        return [new HeadMap(Name, values, new JsonObject
        {
            ["threshold"] = threshold, ["sink_ratio"] = ratio,
            ["sink_ratio_from_layer_1"] = upper.Count == 0 ? null : upper.Count(v => v > threshold) / (double)upper.Count,
        })];
    }
}
