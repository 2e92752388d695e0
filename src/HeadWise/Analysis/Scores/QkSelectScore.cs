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
/// its highest-QK option is the right one (chance 0.25), over the default's count of questions, each asked with the right
/// option at each of the four letters (docs/fidelity.md says why). The paper's attention score is the same argmax over softmax(q.k),
/// so it is not a second map. The paper scores real multiple-choice sets (MMLU, ...); here the question is built from the
/// probe text ("which word was in the text?").
/// </summary>
public sealed class QkSelectScore(int prompts = 1000, int passage = 48) : IHeadScore
{
    /// <summary>Tokens per forward pass when questions are batched: small models run many at once, big ones stay in memory.</summary>
    private const int BatchTokens = 2048;

    public int Prompts => prompts;
    public int Passage => passage;

    /// <summary>The names <see cref="Parse"/> takes, each with what it sets (and its default).</summary>
    public static readonly IReadOnlyDictionary<string, string> Keys = new Dictionary<string, string>
    {
        ["prompts"] = $"questions, each asked with the right option at each letter ({new QkSelectScore().Prompts})",
        ["passage"] = $"passage tokens before the question ({new QkSelectScore().Passage})",
    };

    /// <summary>"key=value,..." over the defaults (for `profile --score-params qk-select:prompts=200`).</summary>
    public static QkSelectScore Parse(string? text)
    {
        var score = new QkSelectScore();
        int? setPrompts = null, setPassage = null;
        foreach (var (key, value) in ScoreParameters.Read("qk-select", text, Keys))
        {
            int x = ScoreParameters.Integer("qk-select", key, value, 1);
            if (key == "prompts") setPrompts = x; else setPassage = x;
        }
        return new QkSelectScore(setPrompts ?? score.Prompts, setPassage ?? score.Passage);
    }

    public string Name => "qk-select";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs next-token answering (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        if (ctx.Tokenizer is null) throw new HeadWiseException("qk-select needs the model's tokenizer to write the question and option letters");
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads, orders = ChoicePrompt.Letters.Length;
        var set = ChoicePrompt.Build(ctx.Probes, ctx.Tokenizer, prompts, passage, ctx.Seed);
        var values = HeadMap.Zeros(layers, heads);
        // Each question is asked once with the right option at each letter: a head that always picks the same letter
        // then scores exactly chance, whatever letters the seed drew (see docs/fidelity.md). Questions of one shape
        // (same length, same option positions) share a forward pass, up to BatchTokens tokens.
        for (int i = 0; i < set.Count;)
        {
            var first = set[i];
            int take = 1, most = Math.Max(1, BatchTokens / (orders * first.Prompt.Length));
            while (take < most && i + take < set.Count && set[i + take].Prompt.Length == first.Prompt.Length && set[i + take].OptionEnds.SequenceEqual(first.OptionEnds)) take++;
            var batch = set.Skip(i).Take(take).SelectMany(q => Enumerable.Range(0, orders).Select(q.Rotated)).ToArray();
            i += take;
            using var scope = torch.NewDisposeScope();
            long last = first.Prompt.Length - 1;
            var captures = new List<CaptureSpec>();
            for (int l = 0; l < layers; l++)
            {
                var n = HookNames.ForLayer(l);
                captures.Add(new CaptureSpec(n.RotQ, null, last, 1));
                captures.Add(new CaptureSpec(n.RotK));
            }
            using var ids = torch.tensor(batch.SelectMany(p => p.Prompt).Select(t => (long)t).ToArray(), [batch.Length, first.Prompt.Length]);
            var (logits, acts) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks);
            using (acts)
            {
                var ends = torch.tensor(first.OptionEnds.Select(x => (long)x).ToArray());
                for (int l = 0; l < layers; l++)
                {
                    var n = HookNames.ForLayer(l);
                    var choice = Choice(acts[n.RotQ].select(1, 0), acts[n.RotK].index_select(1, ends), ctx.Spec.GroupSize);
                    for (int b = 0; b < batch.Length; b++)
                        for (int h = 0; h < heads; h++)
                            if (choice[b * heads + h] == batch[b].Gold) values[l][h] += 1.0 / (orders * set.Count);
                }
            }
        }
        return [new HeadMap(Name, values, new JsonObject
        {
            ["prompts"] = set.Count, ["options"] = 4, ["orders"] = "each question once with the right option at each letter",
            ["passage_tokens"] = passage, ["chance"] = 0.25, ["keys"] = "end-of-line token after each option",
        })];
    }

    /// <summary>
    /// Per prompt and query head, the option whose key has the largest q . k: q [B, H, d], keys [B, options, KV, d];
    /// returns [B * H] (prompt-major).
    /// </summary>
    internal static long[] Choice(Tensor q, Tensor keys, int group)
    {
        var kq = keys.repeat_interleave(group, 2); // [B, options, H, d]
        return (kq * q.unsqueeze(1)).sum(-1).argmax(1).data<long>().ToArray();
    }
}
