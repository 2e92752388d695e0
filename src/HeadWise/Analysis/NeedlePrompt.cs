using HeadWise.Prompts;
using HeadWise.Tokenizers;

namespace HeadWise.Analysis;

/// <summary>
/// Needle-in-a-haystack prompts built from probe token sequences: a needle (a span of another document) is inserted into a
/// haystack at a seeded depth, and the prompt ends with a cue whose continuation is <see cref="Answer"/>.
/// </summary>
public sealed record NeedlePrompt(int[] Prompt, int NeedleStart, int[] Needle, int[] Answer)
{
    /// <summary>Whether a prompt position lies inside the inserted needle.</summary>
    public bool InNeedle(long position) => position >= NeedleStart && position < NeedleStart + Needle.Length;

    /// <summary>Copy-paste prompts (the Retrieval Head test): the prompt ends with the needle's first <paramref name="cue"/> tokens, so a model that retrieves continues with the rest of the needle.</summary>
    public static List<NeedlePrompt> Build(IReadOnlyList<int[]> docs, int count, int needleLength, int cue, int haystack, int seed)
    {
        if (cue < 1 || needleLength <= cue) throw new HeadWiseException($"needle length {needleLength} must exceed the cue {cue} (>= 1)");
        return Insert(docs, count, needleLength, haystack, seed, (needle, _) => (needle[..cue], needle[cue..]));
    }

    /// <summary>
    /// Fact prompts (HeadKV's retrieval-reasoning test): the needle is <paramref name="facts"/> consecutive facts of
    /// <paramref name="factLength"/> tokens; the prompt ends with one fact's first <paramref name="cue"/> tokens (the
    /// question, drawn with the seed), so the model must pick that fact among the others and continue it.
    /// </summary>
    public static List<NeedlePrompt> BuildFacts(IReadOnlyList<int[]> docs, int count, int facts, int factLength, int cue, int haystack, int seed)
    {
        if (facts < 1) throw new HeadWiseException($"fact prompts need at least one fact (got {facts})");
        if (cue < 1 || factLength <= cue) throw new HeadWiseException($"fact length {factLength} must exceed the cue {cue} (>= 1)");
        return Insert(docs, count, facts * factLength, haystack, seed, (needle, rng) =>
        {
            var fact = needle.AsSpan(rng.Next(facts) * factLength, factLength).ToArray();
            return (fact[..cue], fact[cue..]);
        });
    }

    /// <summary>
    /// Named-fact prompts in natural language (HeadKV's retrieval-reasoning test, worded as the Retrieval Head paper's needle,
    /// "The best thing to do in San Francisco is ..."): <paramref name="facts"/> facts about different places, drawn with
    /// the seed from <see cref="PromptWording.EvaluationFacts"/>, form one needle at a seeded depth in a probe haystack;
    /// the prompt ends with the question about one of them, so the model must pick that fact and give its activity.
    /// The haystack is as long as the probe and <paramref name="context"/> allow.
    /// </summary>
    public static List<NeedlePrompt> BuildNamedFacts(IReadOnlyList<int[]> docs, ITokenizer tokenizer, int count, int facts, int context, int seed)
    {
        var all = PromptWording.EvaluationFacts;
        if (facts < 1 || facts > all.Count) throw new HeadWiseException($"named-fact prompts take 1 to {all.Count} facts (got {facts})");
        var form = PromptWording.Fact.EvaluationForm;
        var rng = new Random(seed);
        var prompts = new List<NeedlePrompt>();
        for (int i = 0; i < count; i++)
        {
            var chosen = all.OrderBy(_ => rng.Next()).Take(facts).ToArray();
            var (place, activity) = chosen[rng.Next(facts)];
            var needle = chosen.SelectMany(f => tokenizer.Encode(" " + form.NeedleFor(f.Place, f.Activity), false)).ToArray();
            string question = " " + form.QuestionFor(place);
            var cue = tokenizer.Encode(question, false).ToArray();
            var withAnswer = tokenizer.Encode(question + " " + activity, false).ToArray();
            // The answer as the model would write it after the question (tokens at the join can merge).
            int shared = cue.Zip(withAnswer).TakeWhile(x => x.First == x.Second).Count();
            cue = cue[..shared];
            var answer = withAnswer[shared..];
            var hay = docs[i % docs.Count];
            int haystack = Math.Min(hay.Length, context - needle.Length - cue.Length - answer.Length);
            if (haystack < 2)
                throw new HeadWiseException($"named-fact prompts: {facts} facts, the question and its answer leave no room for a haystack in a {context}-token context");
            int depth = 1 + rng.Next(haystack - 1); // after BOS
            var prompt = hay.Take(depth).Concat(needle).Concat(hay.Skip(depth).Take(haystack - depth)).Concat(cue).ToArray();
            prompts.Add(new NeedlePrompt(prompt, depth, needle, answer));
        }
        return prompts;
    }

    private static List<NeedlePrompt> Insert(IReadOnlyList<int[]> docs, int count, int needleLength, int haystack, int seed,
        Func<int[], Random, (int[] Cue, int[] Answer)> ask)
    {
        if (docs.Count < 2) throw new HeadWiseException("needle prompts need at least 2 probe documents (haystack and needle from different ones)");
        int docLen = docs[0].Length;
        if (haystack + 1 > docLen || needleLength + 1 > docLen)
            throw new HeadWiseException($"probe documents of {docLen} tokens are too short for a {haystack}-token haystack and a {needleLength}-token needle");
        var rng = new Random(seed);
        var prompts = new List<NeedlePrompt>();
        for (int i = 0; i < count; i++)
        {
            var hay = docs[i % docs.Count];
            var src = docs[(i + 1) % docs.Count];
            int from = 1 + rng.Next(docLen - needleLength); // skip BOS
            var needle = src.Skip(from).Take(needleLength).ToArray();
            int depth = 1 + rng.Next(haystack - 1); // after BOS
            var (cue, answer) = ask(needle, rng);
            var prompt = new List<int>(hay.Take(depth));
            prompt.AddRange(needle);
            prompt.AddRange(hay.Skip(depth).Take(haystack - depth));
            prompt.AddRange(cue);
            prompts.Add(new NeedlePrompt(prompt.ToArray(), depth, needle, answer));
        }
        return prompts;
    }
}
