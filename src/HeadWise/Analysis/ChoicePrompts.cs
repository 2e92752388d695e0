using HeadWise.Tokenizers;

namespace HeadWise.Analysis;

/// <summary>
/// Multiple-choice prompts built from probe documents: a passage, the question "Which word was in the text?", four options
/// on lines "A." to "D." (one token from the passage, three from elsewhere; the right letter drawn with the seed), then
/// "Answer:". Records each option's end-of-line token (the first token after the option's text): in a causal model it is
/// the first position whose key has seen the option, which is where the select-and-copy paper reads keys.
/// </summary>
public sealed record ChoicePrompt(int[] Prompt, int[] OptionEnds, int Gold)
{
    public static readonly string[] Letters = ["A", "B", "C", "D"];

    public static List<ChoicePrompt> Build(IReadOnlyList<int[]> docs, ITokenizer tokenizer, int count, int passage, int seed)
    {
        if (docs.Count < 2) throw new HeadWiseException("multiple-choice prompts need at least 2 probe documents");
        passage = Math.Min(passage, docs[0].Length - 1);
        var rng = new Random(seed);
        var list = new List<ChoicePrompt>();
        for (int i = 0; i < count; i++)
        {
            var doc = docs[i % docs.Count];
            var text = doc.Skip(1).Take(passage).ToArray();
            var inText = text.ToHashSet();
            var others = docs.Where(d => d != doc).SelectMany(d => d.Skip(1)).Where(t => !inText.Contains(t)).Distinct().ToList();
            if (others.Count < 3) throw new HeadWiseException("probe documents are too alike to draw multiple-choice distractors");
            int gold = rng.Next(4);
            var options = new int[4];
            for (int o = 0; o < 4; o++) options[o] = o == gold ? text[rng.Next(text.Length)] : others[rng.Next(others.Count)];
            var prompt = new List<int>(doc.Take(1 + passage));
            prompt.AddRange(tokenizer.Encode("\nWhich word was in the text?", false));
            var ends = new int[4];
            for (int o = 0; o < 4; o++)
            {
                prompt.AddRange(tokenizer.Encode("\n" + Letters[o] + ".", false));
                prompt.Add(options[o]);
                ends[o] = prompt.Count; // the next line's first token ends this option's line
            }
            prompt.AddRange(tokenizer.Encode("\nAnswer:", false));
            list.Add(new ChoicePrompt(prompt.ToArray(), ends, gold));
        }
        return list;
    }

    /// <summary>
    /// The same question with the options moved <paramref name="shift"/> letters up (the option on line A goes to the last
    /// line when shift is 1), so the right one sits at letter (Gold - shift) mod 4. Each option is one token, just before
    /// its end-of-line token, so only those tokens move.
    /// </summary>
    public ChoicePrompt Rotated(int shift)
    {
        int n = OptionEnds.Length;
        var prompt = (int[])Prompt.Clone();
        for (int o = 0; o < n; o++) prompt[OptionEnds[o] - 1] = Prompt[OptionEnds[(o + shift) % n] - 1];
        return this with { Prompt = prompt, Gold = ((Gold - shift) % n + n) % n };
    }
}
