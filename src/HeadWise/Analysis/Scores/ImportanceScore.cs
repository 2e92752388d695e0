using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Importance by masking (AttentionInfluence): each head's output is zeroed in turn and the change in next-token loss and the
/// KL divergence from the clean next-token distribution are measured over the probe documents; per-document loss changes
/// (AttentionInfluence's data-selection signal) go in the parameters. Encoders have no next-token loss: their importance is
/// the relative squared change of the final hidden states.
/// </summary>
public sealed class ImportanceScore : IHeadScore
{
    public string Name => "importance";
    public string? Unsupported(ModelSpec spec) => null;

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        var loss = HeadMap.Zeros(layers, heads);
        var kl = HeadMap.Zeros(layers, heads);
        var perDoc = new JsonArray();
        using var ids = ctx.ProbeBatch();
        using var clean = RunOutput(ctx, ids, ctx.NewHooks());
        using var cleanLoss = ctx.Spec.Causal ? DocLoss(clean, ids) : null;
        for (int l = 0; l < layers; l++)
        {
            ctx.Progress($"importance: layer {l + 1}/{layers}");
            var row = new JsonArray();
            for (int h = 0; h < heads; h++)
            {
                using var scope = torch.NewDisposeScope();
                var masked = RunOutput(ctx, ids, ctx.NewHooks().Add(HeadAblation.Zero(l, h)));
                if (ctx.Spec.Causal)
                {
                    var delta = DocLoss(masked, ids) - cleanLoss!; // [N]
                    var d = delta.data<float>().ToArray();
                    loss[l][h] = d.Average();
                    kl[l][h] = KlNext(clean, masked);
                    row.Add(new JsonArray(d.Select(x => (JsonNode)Math.Round(x, 6)).ToArray()));
                }
                else
                {
                    var change = ((masked - clean).pow(HeldScalars.Two).sum(-1) / clean.pow(HeldScalars.Two).sum(-1)).mean([1]); // [N]
                    var d = change.data<float>().ToArray();
                    loss[l][h] = d.Average();
                    row.Add(new JsonArray(d.Select(x => (JsonNode)Math.Round(x, 6)).ToArray()));
                }
            }
            perDoc.Add(row);
        }
        var ps = new JsonObject { ["ablation"] = "zero", ["documents"] = ctx.Probes.Count, ["per_document"] = perDoc,
            ["measure"] = ctx.Spec.Causal ? "mean next-token loss change" : "relative squared change of final hidden states" };
        if (!ctx.Spec.Causal) return [new HeadMap(Name, loss, ps)];
        return [new HeadMap(Name, loss, ps), new HeadMap("importance-kl", kl, new JsonObject { ["ablation"] = "zero", ["measure"] = "KL(clean || masked), nats per token" })];
    }

    private static Tensor RunOutput(ProfileContext ctx, Tensor ids, HookSet hooks) => ctx.Model.Forward(ids, null, hooks);

    /// <summary>Mean next-token NLL per document: [N].</summary>
    internal static Tensor DocLoss(Tensor logits, Tensor ids)
    {
        long t = ids.shape[1];
        var lp = F.log_softmax(logits.narrow(1, 0, t - 1), -1);
        var target = ids.narrow(1, 1, t - 1).unsqueeze(-1);
        return lp.gather(-1, target).squeeze(-1).neg().mean([1]);
    }

    private static double KlNext(Tensor clean, Tensor masked)
    {
        var p = F.log_softmax(clean, -1);
        var q = F.log_softmax(masked, -1);
        return (p.exp() * (p - q)).sum(-1).mean().item<float>();
    }
}
