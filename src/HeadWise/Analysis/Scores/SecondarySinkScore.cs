using System.Text.Json.Nodes;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// "Secondary Attention Sinks": positions other than the first that draw a large share of attention. A position s &gt;= 1 of a
/// probe is a secondary sink in a layer when, averaged over the layer's heads and s's later queries, it receives more than
/// <c>threshold</c> of the attention. The map gives each head's mean attention on its document's secondary sinks (all layers
/// where any is found); the parameters list each sink with its token and the layers where it persists.
/// </summary>
public sealed class SecondarySinkScore(double threshold = 0.1, int minFuture = 8) : IHeadScore
{
    public string Name => "secondary-sink";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        long t = ctx.Probes[0].Length;
        var values = HeadMap.Zeros(layers, heads);
        var sinks = new JsonArray();
        var patterns = ctx.Patterns;
        var future = PatternStats.FutureMask(t, ctx.Spec.Causal);
        long keys = Math.Max(0, t - 1 - minFuture);
        for (int d = 0; d < patterns.Count; d++)
        {
            using var scope = torch.NewDisposeScope();
            // perKey[l]: [H, S] mean attention from later queries.
            var perKey = patterns[d].Select(p => (p * future).sum(1) / future.sum(dim: 0L).clamp_min(HeldScalars.One)).ToArray();
            var flagged = new SortedDictionary<long, List<int>>();
            for (int l = 0; l < layers && keys > 0; l++)
            {
                var share = perKey[l].mean([0]).narrow(0, 1, keys).data<float>().ToArray();
                for (int i = 0; i < share.Length; i++)
                    if (share[i] > threshold) { long s = i + 1; if (!flagged.TryGetValue(s, out var ls)) flagged[s] = ls = []; ls.Add(l); }
            }
            if (flagged.Count == 0) continue;
            var idx = torch.tensor(flagged.Keys.ToArray());
            for (int l = 0; l < layers; l++)
            {
                var mass = perKey[l].index_select(1, idx).sum(1).data<float>().ToArray();
                for (int h = 0; h < heads; h++) values[l][h] += mass[h] / patterns.Count;
            }
            foreach (var (s, ls) in flagged)
                sinks.Add(new JsonObject
                {
                    ["probe"] = d, ["position"] = s,
                    ["token"] = ctx.Tokenizer?.TokenLabel(ctx.Probes[d][s]) ?? ctx.Probes[d][s].ToString(),
                    ["layers"] = new JsonArray(ls.Select(x => (JsonNode)x).ToArray()),
                });
        }
        return [new HeadMap(Name, values, new JsonObject { ["threshold"] = threshold, ["min_future_queries"] = minFuture, ["sinks"] = sinks })];
    }
}
