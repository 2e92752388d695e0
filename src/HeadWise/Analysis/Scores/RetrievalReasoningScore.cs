using System.Text.Json.Nodes;
using HeadWise.Models;

namespace HeadWise.Analysis.Scores;

/// <summary>
/// HeadKV's retrieval-reasoning score (HeadKV-R2, Fu et al., as its released detection code computes it): what the headkv
/// policy spreads its budget by. The model greedily decodes the answer to a fact prompt: several facts in the haystack and
/// a question naming one (<see cref="NeedlePrompt.BuildNamedFacts"/>, in natural language, when the model has a tokenizer;
/// otherwise <see cref="NeedlePrompt.BuildFacts"/>, spans of the probe text asked by their first <c>cue</c> tokens). At
/// each step a head earns the attention weights, among its top-k keys (k = the needle's length), that fall inside the
/// needle, whatever token they hold: answering may need more than copying. A prompt's score per head is that sum over the
/// answer's steps divided by the answer length; only prompts the model answers (token F1 above <c>minF1</c>, the paper's
/// 0.5) count, and a head's score is the mean over them. HeadKV's code also divides by the needle length and multiplies
/// by 10: constants for equal-length needles, which change neither the ranking nor the budget shares (headkv normalises
/// the scores to sum 1). The paper's questions need a reasoning step over the needle; here the step is picking the asked
/// fact among the others. 50 prompts at seeded depths in one (probe-length) context, as many as the released code's
/// 5 context lengths x 10 depths per needle.
/// </summary>
public sealed class RetrievalReasoningScore(int prompts = 50, int facts = 2, int factLength = 12, int cue = 3, int? haystack = null, double minF1 = 0.5) : IHeadScore
{
    public string Name => "retrieval-reasoning";
    public string? Unsupported(ModelSpec spec) => spec.Causal ? null : "needs generation (decoder models only)";

    public IReadOnlyList<HeadMap> Compute(ProfileContext ctx)
    {
        int layers = ctx.Spec.Layers, heads = ctx.Spec.Heads;
        var set = ctx.Tokenizer is { } tokenizer
            ? NeedlePrompt.BuildNamedFacts(ctx.Probes, tokenizer, prompts, facts, ctx.Spec.ContextLength, ctx.Seed)
            : NeedlePrompt.BuildFacts(ctx.Probes, prompts, facts, factLength, cue, SpanHaystack(ctx), ctx.Seed);
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
            ["needles"] = ctx.Tokenizer is null ? $"probe-text spans of {factLength} tokens, asked by their first {cue}" : "named facts in natural language",
            ["top_k"] = "needle length", ["prompt_tokens"] = set.Max(p => p.Prompt.Length),
        })];
    }

    /// <summary>Haystack length for probe-span facts (at most <c>haystack</c>): what the probes and the context leave beside the needle and answer.</summary>
    private int SpanHaystack(ProfileContext ctx)
    {
        int hay = Math.Min(haystack ?? int.MaxValue, Math.Min(ctx.Probes[0].Length - 1, ctx.Spec.ContextLength - facts * factLength - factLength - 1));
        return hay >= 2 ? hay
            : throw new HeadWiseException($"retrieval-reasoning: {facts} facts of {factLength} tokens and the answer leave no room for a haystack in the model's {ctx.Spec.ContextLength}-token context");
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
                    if (p.InNeedle(positions[i]))
                        mass[l][i / kk] += weights[i] / p.Answer.Length;
            }
        });
        return (mass, output);
    }

    /// <summary>Token-level F1 of an output against the answer (bags of tokens, as the paper's qa_f1_score counts words).</summary>
    internal static double TokenF1(IReadOnlyList<int> output, IReadOnlyList<int> answer)
    {
        int common = AnswerDecoder.CommonTokens(output, answer);
        if (common == 0) return 0;
        double precision = (double)common / output.Count, recall = (double)common / answer.Count;
        return 2 * precision * recall / (precision + recall);
    }
}
