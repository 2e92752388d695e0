namespace HeadWise.Eval.Tasks;

/// <summary>
/// `multikey`: several "special magic number for KEY" needles in natural text, one asked (RULER's niah_multikey_1);
/// the asked needle sits at the requested depth, the distractors at random depths.
/// </summary>
public sealed class MultikeyTask(int keys = 4) : NeedleTask
{
    private static readonly string[] Adjectives = ["amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly", "lucky", "misty"];
    private static readonly string[] Nouns = ["anchor", "bridge", "candle", "desert", "engine", "falcon", "garden", "harbor", "island", "jacket", "lantern", "meadow"];

    public override string Name => "multikey";
    protected override AnswerScoring Scoring => AnswerScoring.ExactNumber;
    public override int AnswerTokens => 14;
    protected override SentenceSource Filler(TaskOptions options) => TextFile(options, Name);

    protected override NeedlePrompt Make(Random rng, double depth)
    {
        var names = new HashSet<string>();
        while (names.Count < keys) names.Add($"{Adjectives[rng.Next(Adjectives.Length)]}-{Nouns[rng.Next(Nouns.Length)]}");
        var values = new HashSet<string>();
        while (values.Count < keys) values.Add(rng.Next(1_000_000, 10_000_000).ToString());
        var k = names.ToArray();
        var v = values.ToArray();
        var needles = Enumerable.Range(0, keys)
            .Select(i => new Needle($"One of the special magic numbers for {k[i]} is: {v[i]}.", i == 0 ? depth : rng.NextDouble()))
            .ToList();
        return new NeedlePrompt(
            "Some special magic numbers are hidden in the text below. Remember them.",
            needles,
            $"What is the special magic number for {k[0]} mentioned in the text? The special magic number for {k[0]} mentioned in the text is",
            v[0]);
    }
}
