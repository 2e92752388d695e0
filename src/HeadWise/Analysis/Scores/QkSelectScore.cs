using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// Select-and-copy heads ("Listening to the Wise Few", Tulchinskii et al.): a head's QK-score for an option is
/// q_last . k_option, the rotated query of the prompt's last token ("Answer:") against the rotated key of the option's
/// end-of-line token (the first token after the option's text; see <see cref="ChoicePrompt"/>). A head's score is how often
/// its highest-QK option is the right one (chance 0.25). The paper's attention score is the same argmax over softmax(q.k),
/// so it is not a second map. The paper scores real multiple-choice sets (MMLU, ...); here the question is built from the
/// probe text ("which word was in the text?").
/// </summary>
public sealed class QkSelectScore(int prompts = 12, int passage = 48) : IHeadScore
{
    public string Name => "qk-select";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs next-token answering (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        if (ctx.Tokenizer is null) throw new HeadWiseException("qk-select needs the model's tokenizer to write the question and option letters");
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        var set = ChoicePrompt.Build(ctx.Probes, ctx.Tokenizer, prompts, passage, ctx.Seed);
        var values = HeadMap.Zeros(layers, heads);
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
            }
            using var ids = torch.tensor(p.Prompt.Select(t => (long)t).ToArray(), [1, p.Prompt.Length]);
            var (logits, acts) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks);
            using (acts)
            {
                var ends = torch.tensor(p.OptionEnds.Select(x => (long)x).ToArray());
                for (int l = 0; l < layers; l++)
                {
                    var n = HookNames.ForLayer(l);
                    var choice = Choice(acts[n.RotQ][0, 0], acts[n.RotK][0].index_select(0, ends), ctx.Spec.GroupSize);
                    for (int h = 0; h < heads; h++)
                        if (choice[h] == p.Gold) values[l][h] += 1.0 / set.Count;
                }
            }
        }
        return [new HeadMap(Name, values, new JsonObject
        {
            ["prompts"] = set.Count, ["options"] = 4, ["passage_tokens"] = passage, ["chance"] = 0.25,
            ["keys"] = "end-of-line token after each option",
        })];
    }

    /// <summary>Per query head, the option whose key has the largest q . k: q [H, d], keys [options, KV, d].</summary>
    internal static long[] Choice(Tensor q, Tensor keys, int group)
    {
        var kq = keys.repeat_interleave(group, 1).transpose(0, 1); // [H, options, d]
        return (kq * q.unsqueeze(1)).sum(-1).argmax(-1).data<long>().ToArray();
    }
}
