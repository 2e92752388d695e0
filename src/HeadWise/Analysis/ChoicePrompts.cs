using HeadWise.Tokenizers;

namespace HeadWise.Analysis;

/// <summary>
/// Multiple-choice prompts built from probe documents: a passage, the question "which word appeared in the text?", four options
/// labelled A-D (one token from the passage, three from elsewhere; the right letter drawn with the seed), then "Answer:".
/// Records where each option's letter sits, which the select-and-copy scores read.
/// </summary>
public sealed record ChoicePrompt(int[] Prompt, int[] LabelPositions, int Gold)
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
            var labels = new int[4];
            for (int o = 0; o < 4; o++)
            {
                prompt.AddRange(tokenizer.Encode("\n" + Letters[o], false));
                labels[o] = prompt.Count - 1;
                prompt.AddRange(tokenizer.Encode(".", false));
                prompt.Add(options[o]);
            }
            prompt.AddRange(tokenizer.Encode("\nAnswer:", false));
            list.Add(new ChoicePrompt(prompt.ToArray(), labels, gold));
        }
        return list;
    }
}
