using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// HeSS-style sensitivity to sparsified attention. Each head's pattern A is perturbed to its top-k sparsification A'
/// (the k largest keys per query kept and renormalised), and the loss change is estimated to second order with the
/// empirical Fisher: dL ~ 1/2 (g . (A' - A))^2 per calibration document, g = dLoss/dA from one backward pass. No head is
/// actually sparsified: one forward and one backward give every head's estimate. Needs a next-token loss (decoders).
/// </summary>
public sealed class SensitivityScore(double keepFraction = 0.1) : IHeadScore
{
    public string Name => "sensitivity";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs a next-token loss (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers;
        long t = ctx.Probes[0].Length;
        int k = (int)Math.Max(2, Math.Ceiling(keepFraction * t));
        var leaves = new Tensor?[layers];
        var hooks = ctx.NewHooks();
        for (int l = 0; l < layers; l++)
        {
            int layer = l;
            // Replace the pattern by a leaf with the same numbers so its gradient can be read after backward.
            hooks.Add(HookNames.ForLayer(l).Pattern, p =>
            {
                var leaf = p.detach().clone().requires_grad_(true).DetachFromDisposeScope();
                leaves[layer] = leaf;
                return leaf;
            });
        }
        var values = new double[layers][];
        try
        {
            using var ids = ctx.ProbeBatch();
            using (var scope = torch.NewDisposeScope())
            {
                var logits = ctx.Model.Forward(ids, null, hooks);
                ImportanceScore.DocLoss(logits, ids).sum().backward();
            }
            for (int l = 0; l < layers; l++)
            {
                using var scope = torch.NewDisposeScope();
                var p = leaves[l]!.detach();
                var g = leaves[l]!.grad!;
                var delta = Sparsify(p, k) - p;
                var est = (g * delta).sum([2, 3]).pow(HeldScalars.Two).mul(HeldScalars.Half).mean([0]); // [H]
                values[l] = est.to_type(ScalarType.Float64).data<double>().ToArray();
            }
        }
        finally
        {
            foreach (var leaf in leaves) leaf?.Dispose();
        }
        return [new HeadMap(Name, values, new JsonObject { ["keep_top_k"] = k, ["estimate"] = "0.5 * (dL/dA . (A_topk - A))^2, mean over documents" })];
    }

    /// <summary>Keeps the k largest entries of each row (dim -1) and renormalises the row.</summary>
    internal static Tensor Sparsify(Tensor p, int k)
    {
        k = (int)Math.Min(k, p.shape[^1]);
        var (_, idx) = p.topk(k, -1);
        var kept = torch.zeros_like(p).scatter_(-1, idx, torch.ones_like(idx, dtype: p.dtype)) * p;
        return kept / kept.sum(-1, keepdim: true).clamp_min(HeldScalars.ProbabilityFloor);
    }
}
