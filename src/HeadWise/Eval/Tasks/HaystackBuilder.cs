namespace HeadWise.Eval.Tasks;

/// <summary>One sentence to hide: its text and the depth (fraction of the haystack, in tokens) to put it at.</summary>
public sealed record Needle(string Text, double Depth);

/// <summary>
/// Assembles [BOS] prefix, filler sentences with needles between them, question, in token space, so the prompt has
/// exactly the requested number of tokens and each needle starts at the sentence boundary nearest its depth.
/// The last filler sentence is cut to make the length exact.
/// </summary>
internal static class HaystackBuilder
{
    public sealed record Built(int[] Tokens, int HaystackStart, int HaystackEnd, int[] NeedleStarts, int MaxSentenceTokens, int NeedleTokens);

    public static Built Build(SegmentEncoder enc, SentenceSource filler, int firstSentence, int length, string prefix,
        IReadOnlyList<Needle> needles, string question, string taskName)
    {
        var head = enc.Bos().Concat(enc.Encode(prefix)).ToArray();
        var tail = enc.Encode(question);
        var needleIds = needles.Select(n => enc.Encode(n.Text)).ToArray();
        int fixedCount = head.Length + tail.Length + needleIds.Sum(n => n.Length);
        int budget = length - fixedCount;
        if (budget < 8 * needles.Count)
            throw new HeadWiseException($"length {length} is too short for task {taskName}: its instructions, needles and question alone take {fixedCount} tokens");

        // Filler sentences up to the budget; boundaries[i] = token offset where sentence i starts.
        var hay = new List<int>(budget);
        var boundaries = new List<int>();
        int maxSentence = 0;
        for (int i = firstSentence; hay.Count < budget; i++)
        {
            var s = filler.Tokens(enc, i);
            if (s.Length == 0) continue;
            boundaries.Add(hay.Count);
            maxSentence = Math.Max(maxSentence, s.Length);
            hay.AddRange(s.Take(budget - hay.Count));
        }

        if (boundaries.Count + 1 < needles.Count)
            throw new HeadWiseException($"length {length} is too short for task {taskName}: {needles.Count} needles need at least {needles.Count - 1} filler sentences between them");

        // Each needle takes the free boundary nearest its depth (the first needle is the one asked about, placed first).
        var taken = new HashSet<int>();
        var at = new int[needles.Count];
        for (int n = 0; n < needles.Count; n++)
        {
            double target = needles[n].Depth * budget;
            var best = Enumerable.Range(0, boundaries.Count + 1).Where(b => !taken.Contains(b))
                .MinBy(b => Math.Abs((b < boundaries.Count ? boundaries[b] : budget) - target));
            taken.Add(best);
            at[n] = best;
        }

        var tokens = new List<int>(length);
        tokens.AddRange(head);
        var starts = new int[needles.Count];
        for (int b = 0; b <= boundaries.Count; b++)
        {
            for (int n = 0; n < needles.Count; n++)
                if (at[n] == b) { starts[n] = tokens.Count; tokens.AddRange(needleIds[n]); }
            if (b < boundaries.Count)
            {
                int end = b + 1 < boundaries.Count ? boundaries[b + 1] : budget;
                tokens.AddRange(hay.GetRange(boundaries[b], end - boundaries[b]));
            }
        }
        int hayEnd = tokens.Count;
        tokens.AddRange(tail);
        return new Built([.. tokens], head.Length, hayEnd, starts, maxSentence, needleIds.Sum(n => n.Length));
    }
}
