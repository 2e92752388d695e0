namespace HeadWise.Analysis;

/// <summary>
/// Needle-in-a-haystack prompts built from probe token sequences: a needle (a span of another document) is inserted into a
/// haystack at a seeded depth, and the prompt ends with the needle's first <c>Cue</c> tokens, so a model that retrieves
/// continues with the rest of the needle.
/// </summary>
public sealed record NeedlePrompt(int[] Prompt, int NeedleStart, int[] Needle, int Cue)
{
    /// <summary>The tokens a correct answer generates: the needle after the cue.</summary>
    public int[] Answer => Needle[Cue..];

    public static List<NeedlePrompt> Build(IReadOnlyList<int[]> docs, int count, int needleLength, int cue, int haystack, int seed)
    {
        if (docs.Count < 2) throw new HeadWiseException("needle prompts need at least 2 probe documents (haystack and needle from different ones)");
        if (cue < 1 || needleLength <= cue) throw new HeadWiseException($"needle length {needleLength} must exceed the cue {cue} (>= 1)");
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
            var prompt = new List<int>(hay.Take(depth));
            prompt.AddRange(needle);
            prompt.AddRange(hay.Skip(depth).Take(haystack - depth));
            prompt.AddRange(needle.Take(cue));
            prompts.Add(new NeedlePrompt(prompt.ToArray(), depth, needle, cue));
        }
        return prompts;
    }
}
