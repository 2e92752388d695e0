using System.Text.Json.Nodes;
using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// The Retrieval Head paper's copy-paste score. While the model greedily decodes the answer to a needle prompt, a head scores
/// at a step when the token generated is right and the head's top-1 attended position lies inside the needle and holds that
/// token; a head's score is its hits over the answer length, averaged over the prompts. The haystack is as long as the
/// probe documents allow (the paper uses long contexts; a model trained on long ones may not retrieve in short ones),
/// leaving room in the context for the answer.
/// </summary>
public sealed class RetrievalScore(int prompts = 6, int needleLength = 12, int cue = 3, int? haystack = null) : IHeadScore
{
    public string Name => "retrieval";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs generation (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        int hay = Math.Min(haystack ?? int.MaxValue, Math.Min(ctx.Probes[0].Length - 1, ctx.Spec.ContextLength - 2 * needleLength - 1));
        if (hay < 2)
            throw new HeadWiseException($"retrieval: a {needleLength}-token needle and its answer leave no room for a haystack in the model's {ctx.Spec.ContextLength}-token context");
        var set = NeedlePrompts(ctx, hay);
        var values = HeadMap.Zeros(layers, heads);
        int correct = 0, total = 0;
        for (int i = 0; i < set.Count; i++)
        {
            ctx.Progress($"retrieval: prompt {i + 1}/{set.Count}");
            var hits = Score(ctx, set[i], out int right);
            correct += right; total += set[i].Answer.Length;
            for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) values[l][h] += hits[l][h] / set.Count;
        }
        return [new HeadMap(Name, values, new JsonObject
        {
            ["prompts"] = set.Count, ["needle_tokens"] = needleLength, ["cue_tokens"] = cue, ["haystack_tokens"] = hay,
            ["answer_token_accuracy"] = total == 0 ? 0 : (double)correct / total,
        })];
    }

    internal List<NeedlePrompt> NeedlePrompts(ProfileContext ctx, int hay) =>
        NeedlePrompt.Build(ctx.Probes, prompts, needleLength, cue, hay, ctx.Seed);

    /// <summary>Greedy decoding of one prompt's answer; per head the fraction of answer tokens it copied.</summary>
    internal static double[][] Score(ProfileContext ctx, NeedlePrompt p, out int right)
    {
        int layers = ctx.Spec.Layers;
        var hits = HeadMap.Zeros(layers, ctx.Spec.Heads);
        right = 0;
        using var cache = new FullKvCache(ctx.Spec, p.Prompt.Length + p.Answer.Length);
        var input = p.Prompt;
        for (int step = 0; step < p.Answer.Length; step++)
        {
            using var scope = torch.NewDisposeScope();
            using var ids = torch.tensor(input.Select(t => (long)t).ToArray(), [1, input.Length]);
            // The last query's pattern is the one that chose this step's token.
            var captures = Enumerable.Range(0, layers).Select(l => new CaptureSpec(HookNames.ForLayer(l).Pattern, null, input.Length - 1, 1)).ToList();
            var (logits, acts) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks, cache);
            using (acts)
            {
                int token = (int)logits[0, -1].argmax().item<long>();
                if (token == p.Answer[step])
                {
                    right++;
                    for (int l = 0; l < layers; l++)
                    {
                        var top = acts[HookNames.ForLayer(l).Pattern][0, .., 0].argmax(-1).data<long>().ToArray(); // [H]
                        for (int h = 0; h < top.Length; h++)
                            if (CopiesFromNeedle(p, top[h], token)) hits[l][h] += 1.0 / p.Answer.Length;
                    }
                }
                input = [token];
            }
        }
        return hits;
    }

    /// <summary>The paper's rule: the attended position is inside the needle and holds the token just generated.</summary>
    internal static bool CopiesFromNeedle(NeedlePrompt p, long position, int generated) =>
        position >= p.NeedleStart && position < p.NeedleStart + p.Needle.Length && p.Prompt[position] == generated;
}
