using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// HeSS (Head Sensitivity Score, Kim et al.): how much a head's sparsified attention costs. Each head's pattern A is
/// perturbed to its top-k sparsification A' (the k largest keys per query kept and renormalised) and the loss change is
/// estimated to second order, with the Hessian approximated by the diagonal empirical Fisher (squared gradients of one
/// backward pass on the calibration documents), for two error terms: the attention-map error dA = A' - A and the head-output
/// error dO = dA V. HeSS = 1/2 sum (dL/dA * dA)^2 + 1/2 sum (dL/dO * dO)^2 per document, averaged over the documents.
/// No head is actually sparsified: one forward and one backward give every head's estimate. Needs a next-token loss.
/// HeSS is published for VGGT's global attention (a 3D-vision model); only its abstract was readable here, which names
/// the Hessian "with respect to two distinct error terms": the two terms above are HeadWise's reading (docs/fidelity.md).
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
        var patterns = new Tensor?[layers];
        var outputs = new Tensor?[layers];
        var values = new Tensor?[layers];
        var hooks = ctx.NewHooks();
        for (int l = 0; l < layers; l++)
        {
            int layer = l;
            var names = HookNames.ForLayer(l);
            // The pattern becomes a leaf with the same numbers so its gradient can be read after backward; the head output
            // keeps its gradient; the values are read as they are.
            hooks.Add(names.Pattern, p =>
            {
                var leaf = p.detach().clone().requires_grad_(true).DetachFromDisposeScope();
                patterns[layer] = leaf;
                return leaf;
            });
            hooks.Add(names.Z, z => { z.retain_grad(); outputs[layer] = z.DetachFromDisposeScope(); return z; });
            hooks.Add(names.V, v => { values[layer] = v.detach().clone().DetachFromDisposeScope(); return v; });
        }
        var hess = new double[layers][];
        var mapTerm = new double[layers][];
        var outTerm = new double[layers][];
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
                var a = patterns[l]!.detach();                                     // [B, H, T, S]
                var dA = Sparsify(a, k) - a;
                var v = values[l]!.repeat_interleave(ctx.Spec.GroupSize, 2).transpose(1, 2); // [B, H, S, d]
                var dO = torch.matmul(dA, v).transpose(1, 2);                      // [B, T, H, d], as hook_z
                var termA = (patterns[l]!.grad! * dA).pow(HeldScalars.Two).sum([2, 3]).mul(HeldScalars.Half).mean([0]); // [H]
                var termO = (outputs[l]!.grad! * dO).pow(HeldScalars.Two).sum([1, 3]).mul(HeldScalars.Half).mean([0]);
                mapTerm[l] = termA.to_type(ScalarType.Float64).data<double>().ToArray();
                outTerm[l] = termO.to_type(ScalarType.Float64).data<double>().ToArray();
                hess[l] = mapTerm[l].Zip(outTerm[l], (x, y) => x + y).ToArray();
            }
        }
        finally
        {
            foreach (var x in patterns.Concat(outputs).Concat(values)) x?.Dispose();
        }
        JsonArray Rows(double[][] m) => new(m.Select(r => (JsonNode)new JsonArray(r.Select(x => (JsonNode)x).ToArray())).ToArray());
        return [new HeadMap(Name, hess, new JsonObject
        {
            ["keep_top_k"] = k, ["keep_fraction"] = keepFraction,
            ["estimate"] = "1/2 sum (dL/dA * dA)^2 + 1/2 sum (dL/dO * dO)^2 (diagonal empirical Fisher), mean over documents",
            ["attention_map_term"] = Rows(mapTerm), ["head_output_term"] = Rows(outTerm),
        })];
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
