using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Select-and-copy heads for multiple-choice answering: at the final ("Answer:") position, a head's QK-score for an option is
/// q_last . k_label (rotated query and key), its attention score the attention weight on the option's letter. A head's
/// score is how often the option with the highest QK-score (map qk-select) or attention (qk-select-attn) is the right one.
/// </summary>
public sealed class QkSelectScore(int prompts = 12, int passage = 48) : IHeadScore
{
    public string Name => "qk-select";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs next-token answering (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        if (ctx.Tokenizer is null) throw new HeadWiseException("qk-select needs the model's tokenizer to write the question and option letters");
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads, group = ctx.Spec.GroupSize;
        var set = ChoicePrompt.Build(ctx.Probes, ctx.Tokenizer, prompts, passage, ctx.Seed);
        var qk = HeadMap.Zeros(layers, heads);
        var attn = HeadMap.Zeros(layers, heads);
        foreach (var p in set)
        {
            using var scope = torch.NewDisposeScope();
            long last = p.Prompt.Length - 1;
            var captures = new List<CaptureSpec>();
            for (int l = 0; l < layers; l++)
            {
                var n = HookNames.ForLayer(l);
                captures.Add(new CaptureSpec(n.RotQ, null, last, 1));
                captures.Add(new CaptureSpec(n.RotK));
                captures.Add(new CaptureSpec(n.Pattern, null, last, 1));
            }
            using var ids = torch.tensor(p.Prompt.Select(t => (long)t).ToArray(), [1, p.Prompt.Length]);
            var (logits, acts) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks);
            using (acts)
            {
                var labels = torch.tensor(p.LabelPositions.Select(x => (long)x).ToArray());
                for (int l = 0; l < layers; l++)
                {
                    var n = HookNames.ForLayer(l);
                    var q = acts[n.RotQ][0, 0];                                   // [H, d]
                    var k = acts[n.RotK][0].index_select(0, labels);              // [4, KV, d]
                    var kq = k.repeat_interleave(group, 1).transpose(0, 1);       // [H, 4, d]
                    var scoreQk = (kq * q.unsqueeze(1)).sum(-1).argmax(-1).data<long>().ToArray();
                    var scoreAttn = acts[n.Pattern][0, .., 0].index_select(1, labels).argmax(-1).data<long>().ToArray();
                    for (int h = 0; h < heads; h++)
                    {
                        if (scoreQk[h] == p.Gold) qk[l][h] += 1.0 / set.Count;
                        if (scoreAttn[h] == p.Gold) attn[l][h] += 1.0 / set.Count;
                    }
                }
            }
        }
        var ps = new JsonObject { ["prompts"] = set.Count, ["options"] = 4, ["passage_tokens"] = passage, ["chance"] = 0.25 };
        return [new HeadMap(Name, qk, ps), new HeadMap("qk-select-attn", attn, (JsonObject)ps.DeepClone())];
    }
}
