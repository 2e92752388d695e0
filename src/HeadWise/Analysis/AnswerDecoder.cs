using HeadWise.Heads;
using HeadWise.KvCache;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis;

/// <summary>Greedy decoding of a prompt's answer, showing each step's token and the attention of the query that chose it; how an answer matches.</summary>
internal static class AnswerDecoder
{
    /// <summary>
    /// Decodes <paramref name="steps"/> tokens greedily; after each, calls <paramref name="step"/> with the step, the token,
    /// and per layer the last query's pattern [H, S] (valid during the call only). Returns the tokens.
    /// </summary>
    public static int[] Decode(ProfileContext ctx, int[] prompt, int steps, Action<int, int, Tensor[]> step)
    {
        int layers = ctx.Spec.Layers;
        var output = new int[steps];
        using var cache = new FullKvCache(ctx.Spec, prompt.Length + steps);
        var input = prompt;
        for (int s = 0; s < steps; s++)
        {
            using var scope = torch.NewDisposeScope();
            using var ids = torch.tensor(input.Select(t => (long)t).ToArray(), [1, input.Length]);
            var captures = Enumerable.Range(0, layers).Select(l => new CaptureSpec(HookNames.ForLayer(l).Pattern, null, input.Length - 1, 1)).ToList();
            var (logits, acts) = ctx.Model.RunWithCache(ids, captures, ctx.Hooks, cache);
            using (acts)
            {
                int token = (int)logits[0, -1].argmax().item<long>();
                output[s] = token;
                step(s, token, Enumerable.Range(0, layers).Select(l => acts[HookNames.ForLayer(l).Pattern][0, .., 0]).ToArray());
                input = [token];
            }
        }
        return output;
    }

    /// <summary>How many tokens two sequences share, each token counted as often as both hold it (unigram overlap).</summary>
    public static int CommonTokens(IReadOnlyList<int> output, IReadOnlyList<int> answer)
    {
        var left = answer.GroupBy(t => t).ToDictionary(g => g.Key, g => g.Count());
        int common = 0;
        foreach (var t in output)
            if (left.TryGetValue(t, out int n) && n > 0) { common++; left[t] = n - 1; }
        return common;
    }
}
