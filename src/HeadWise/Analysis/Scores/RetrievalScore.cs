using System.Text.Json.Nodes;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// The Retrieval Head paper's copy-paste score (Wu et al., as its released detection code computes it). The model greedily
/// decodes the answer to a needle prompt; at each step a head copies when its top-1 attended position lies inside the
/// needle and holds the token just generated. A prompt's score per head is its copies over the answer length; only prompts
/// the model answers (ROUGE-1 recall of the answer's tokens above <c>minRecall</c>, the paper's 0.5) count, and a head's
/// score is the mean over them. The paper asks a question after a natural-language needle and reads the needle's length;
/// here the prompt ends with the needle's first <c>cue</c> tokens and the answer is the rest of it, so the answer length
/// is what a perfect copier copies. The haystack is as long as the probe documents allow (the paper uses long contexts),
/// leaving room in the context for the answer. 50 prompts at seeded depths in one (probe-length) context: the released code
/// runs 20 context lengths x 10 depths for each of its 3 needles, too many for a CPU profile.
/// </summary>
public sealed class RetrievalScore(int prompts = 50, int needleLength = 12, int cue = 3, int? haystack = null, double minRecall = 0.5) : IHeadScore
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
        int correct = 0, total = 0, counted = 0;
        for (int i = 0; i < set.Count; i++)
        {
            ctx.Progress($"retrieval: prompt {i + 1}/{set.Count}");
            var (hits, output) = Score(ctx, set[i]);
            correct += output.Zip(set[i].Answer).Count(x => x.First == x.Second); total += set[i].Answer.Length;
            if (AnswerRecall(output, set[i].Answer) <= minRecall) continue;
            counted++;
            for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) values[l][h] += hits[l][h];
        }
        if (counted > 0)
            for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) values[l][h] /= counted;
        else
            ctx.Progress($"retrieval: the model answered none of the {set.Count} prompts, so every head scores 0 (only answered prompts count)");
        return [new HeadMap(Name, values, new JsonObject
        {
            ["prompts"] = set.Count, ["prompts_answered"] = counted, ["min_recall"] = minRecall,
            ["needle_tokens"] = needleLength, ["cue_tokens"] = cue, ["haystack_tokens"] = hay,
            ["answer_token_accuracy"] = total == 0 ? 0 : (double)correct / total,
        })];
    }

    internal List<NeedlePrompt> NeedlePrompts(ProfileContext ctx, int hay) =>
        NeedlePrompt.Build(ctx.Probes, prompts, needleLength, cue, hay, ctx.Seed);

    /// <summary>Greedy decoding of one prompt's answer: per head the share of answer steps it copied, and the tokens decoded.</summary>
    internal static (double[][] Hits, int[] Output) Score(ProfileContext ctx, NeedlePrompt p)
    {
        var hits = HeadMap.Zeros(ctx.Spec.Layers, ctx.Spec.Heads);
        var output = AnswerDecoder.Decode(ctx, p.Prompt, p.Answer.Length, (_, token, patterns) =>
        {
            for (int l = 0; l < patterns.Length; l++)
            {
                var top = patterns[l].argmax(-1).data<long>().ToArray(); // [H]
                for (int h = 0; h < top.Length; h++)
                    if (CopiesFromNeedle(p, top[h], token)) hits[l][h] += 1.0 / p.Answer.Length;
            }
        });
        return (hits, output);
    }

    /// <summary>ROUGE-1 recall over tokens: the share of the answer's tokens (with multiplicity) that the output contains.</summary>
    internal static double AnswerRecall(IReadOnlyList<int> output, IReadOnlyList<int> answer) =>
        answer.Count == 0 ? 0 : (double)AnswerDecoder.CommonTokens(output, answer) / answer.Count;

    /// <summary>The paper's rule: the attended position is inside the needle and holds the token just generated.</summary>
    internal static bool CopiesFromNeedle(NeedlePrompt p, long position, int generated) =>
        p.InNeedle(position) && p.Prompt[position] == generated;
}
