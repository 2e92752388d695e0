namespace HeadWise.Eval.Tasks;

/// <summary>`niah`: one fact sentence in natural text (Kamradt's needle in a haystack), scored by ROUGE-1 recall.</summary>
public sealed class NiahTask : NeedleTask
{
    private static readonly (string Place, string Activity)[] Facts =
    [
        ("San Francisco", "eat a sandwich and sit in Dolores Park on a sunny day"),
        ("Lisbon", "ride the old yellow tram up the hill at sunset"),
        ("Kyoto", "walk through the bamboo forest early in the morning"),
        ("Oslo", "swim in the cold fjord and then sit in a warm sauna"),
        ("Cairo", "watch the boats on the river from a rooftop garden"),
        ("Lima", "eat fresh ceviche at a small market stall by the sea"),
    ];

    public override string Name => "niah";
    protected override AnswerScoring Scoring => AnswerScoring.RougeRecall;
    public override int AnswerTokens => 32;
    protected override SentenceSource Filler(TaskOptions options) => TextFile(options, Name);

    protected override NeedlePrompt Make(Random rng, double depth)
    {
        var (place, activity) = Facts[rng.Next(Facts.Length)];
        return new NeedlePrompt(
            "Read the text below and remember the facts hidden in it.",
            [new Needle($"The best thing to do in {place} is to {activity}.", depth)],
            $"What is the best thing to do in {place}? The best thing to do in {place} is to", activity);
    }
}
