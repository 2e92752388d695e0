using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Importance by masking one head at a time ("Are Sixteen Heads Really Better than One?", Michel et al.): each head's output
/// is zeroed in turn and the change in mean next-token loss over the probe documents is its importance; a second map gives
/// the KL divergence of the masked next-token distribution from the clean one. Michel et al. report the change in each
/// task's metric (BLEU, accuracy); a language model's metric here is its loss. Encoders have no next-token loss: their
/// importance is the relative squared change of the final hidden states. (AttentionInfluence, which masks the retrieval
/// heads together and ranks documents, is <see cref="AttentionInfluenceScore"/>.)
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
        using var ids = ctx.ProbeBatch();
        using var clean = RunOutput(ctx, ids, ctx.NewHooks());
        using var cleanLoss = ctx.Spec.Causal ? DocLoss(clean, ids) : null;
        for (int l = 0; l < layers; l++)
        {
            ctx.Progress($"importance: layer {l + 1}/{layers}");
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
                }
                else
                {
                    var change = ((masked - clean).pow(HeldScalars.Two).sum(-1) / clean.pow(HeldScalars.Two).sum(-1)).mean([1]); // [N]
                    var d = change.data<float>().ToArray();
                    loss[l][h] = d.Average();
                }
            }
        }
        var ps = new JsonObject { ["ablation"] = "zero", ["documents"] = ctx.Probes.Count,
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
