namespace HeadWise.Eval.Tasks;

/// <summary>Walks the length x depth x sample grid with a seeded generator per cell that does not depend on the others.</summary>
internal static class TaskGrid
{
    public static IReadOnlyList<EvalSample> Expand(TaskOptions o, bool hasDepth, Func<int, double?, Random, EvalSample> make)
    {
        var depths = hasDepth ? o.Depths.Select(d => (double?)d).ToArray() : [null];
        var list = new List<EvalSample>();
        foreach (var length in o.Lengths)
            for (int di = 0; di < depths.Length; di++)
                for (int s = 0; s < o.Samples; s++)
                    list.Add(make(length, depths[di], new Random(Mix(o.Seed, length, di, s))));
        return list;
    }

    // A fixed mix (HashCode.Combine is randomised per process, which would break "same seed, same prompts").
    internal static int Mix(int seed, int length, int depth, int sample)
    {
        unchecked
        {
            long h = seed * 1_000_003L + length * 7919L + depth * 104_729L + sample * 15_485_863L;
            return (int)(h ^ (h >> 31)) & int.MaxValue;
        }
    }

    /// <summary>Occurrences of <paramref name="answer"/> in <paramref name="text"/>.</summary>
    public static int Count(string text, string answer)
    {
        int n = 0;
        for (int i = text.IndexOf(answer, StringComparison.Ordinal); i >= 0; i = text.IndexOf(answer, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
