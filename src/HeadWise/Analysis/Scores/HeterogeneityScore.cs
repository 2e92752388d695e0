using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Task-KV's heterogeneous heads: the semantic centre of a layer is the mean of its heads' outputs (hook_result, each head's
/// contribution to the residual stream); a head's score is its mean cosine distance (1 - cos) from that centre over tokens.
/// </summary>
public sealed class HeterogeneityScore : IHeadScore
{
    public string Name => "heterogeneity";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers;
        var values = new double[layers][];
        using var ids = ctx.ProbeBatch();
        var captures = Enumerable.Range(0, layers).Select(l => new CaptureSpec(HookNames.ForLayer(l).Result)).ToList();
        var (logits, cache) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks);
        using (logits)
        using (cache)
            for (int l = 0; l < layers; l++)
            {
                using var scope = torch.NewDisposeScope();
                var r = cache[HookNames.ForLayer(l).Result]; // [B, T, H, D]
                var centre = r.mean([2], keepdim: true).expand_as(r);
                var dist = 1 - F.cosine_similarity(r, centre, dim: -1, eps: 1e-12); // [B, T, H]
                values[l] = dist.mean([0, 1]).to_type(ScalarType.Float64).data<double>().ToArray();
            }
        return [new HeadMap(Name, values, new JsonObject { ["measure"] = "1 - cos(head output, layer mean of head outputs)" })];
    }
}
