using System.Text.Json.Nodes;
using HeadWise.Models;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// HeadKV's retrieval-reasoning score (HeadKV-R2, Fu et al., as its released detection code computes it): what the headkv
/// policy spreads its budget by. The model greedily decodes the answer to a fact prompt (<see cref="NeedlePrompt.BuildFacts"/>:
/// several facts in the haystack, the question names one). At each step a head earns the attention weights, among its
/// top-k keys (k = the needle's length), that fall inside the needle, whatever token they hold: answering may need more
/// than copying. A prompt's score per head is that sum over the answer's steps divided by the answer length; only prompts
/// the model answers (token F1 above <c>minF1</c>, the paper's 0.5) count, and a head's score is the mean over them.
/// HeadKV's code also divides by the needle length and multiplies by 10: constants for equal-length needles, which
/// change neither the ranking nor the budget shares (headkv normalises the scores to sum 1).
/// The paper's needles are natural-language facts with a question that needs a reasoning step; here facts are spans of
/// the probe text and the question is a fact's first <c>cue</c> tokens.
/// </summary>
public sealed class RetrievalReasoningScore(int prompts = 50, int facts = 2, int factLength = 12, int cue = 3, int? haystack = null, double minF1 = 0.5) : IHeadScore
{
    public string Name => "retrieval-reasoning";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs generation (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads, needle = facts * factLength, answer = factLength - cue;
        int hay = Math.Min(haystack ?? int.MaxValue, Math.Min(ctx.Probes[0].Length - 1, ctx.Spec.ContextLength - needle - factLength - 1));
        if (hay < 2)
            throw new HeadWiseException($"retrieval-reasoning: {facts} facts of {factLength} tokens and the answer leave no room for a haystack in the model's {ctx.Spec.ContextLength}-token context");
        var set = NeedlePrompt.BuildFacts(ctx.Probes, prompts, facts, factLength, cue, hay, ctx.Seed);
        var values = HeadMap.Zeros(layers, heads);
        int counted = 0;
        for (int i = 0; i < set.Count; i++)
        {
            ctx.Progress($"retrieval-reasoning: prompt {i + 1}/{set.Count}");
            var (mass, output) = Score(ctx, set[i]);
            if (TokenF1(output, set[i].Answer) <= minF1) continue;
            counted++;
            for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) values[l][h] += mass[l][h];
        }
        if (counted > 0)
            for (int l = 0; l < layers; l++) for (int h = 0; h < heads; h++) values[l][h] /= counted;
        else
            ctx.Progress($"retrieval-reasoning: the model answered none of the {set.Count} prompts, so every head scores 0 (only answered prompts count)");
        return [new HeadMap(Name, values, new JsonObject
        {
            ["prompts"] = set.Count, ["prompts_answered"] = counted, ["min_f1"] = minF1, ["facts"] = facts,
            ["fact_tokens"] = factLength, ["cue_tokens"] = cue, ["top_k"] = needle, ["haystack_tokens"] = hay,
        })];
    }

    /// <summary>Per head, the attention inside the needle among its top-k keys, summed over the answer's steps over the answer length.</summary>
    internal static (double[][] Mass, int[] Output) Score(ProfileContext ctx, NeedlePrompt p)
    {
        var mass = HeadMap.Zeros(ctx.Spec.Layers, ctx.Spec.Heads);
        int k = p.Needle.Length;
        var output = AnswerDecoder.Decode(ctx, p.Prompt, p.Answer.Length, (_, _, patterns) =>
        {
            for (int l = 0; l < patterns.Length; l++)
            {
                int kk = (int)Math.Min(k, patterns[l].shape[^1]);
                var (top, at) = patterns[l].topk(kk, -1); // [H, kk]
                var weights = top.data<float>().ToArray();
                var positions = at.data<long>().ToArray();
                for (int i = 0; i < weights.Length; i++)
                    if (positions[i] >= p.NeedleStart && positions[i] < p.NeedleStart + p.Needle.Length)
                        mass[l][i / kk] += weights[i] / p.Answer.Length;
            }
        });
        return (mass, output);
    }

    /// <summary>Token-level F1 of an output against the answer (bags of tokens, as the paper's qa_f1_score counts words).</summary>
    internal static double TokenF1(IReadOnlyList<int> output, IReadOnlyList<int> answer)
    {
        var left = answer.GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        int common = 0;
        foreach (var t in output)
            if (left.TryGetValue(t, out int n) && n > 0) { common++; left[t] = n - 1; }
        if (common == 0) return 0;
        double precision = (double)common / output.Count, recall = (double)common / answer.Count;
        return 2 * precision * recall / (precision + recall);
    }
}
