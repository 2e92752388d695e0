using HeadWise.Prompts;

namespace HeadWise.Eval.Tasks;

/// <summary>
/// `multikey`: several "special magic number for KEY" needles in natural text, one asked (RULER's niah_multikey_1);
/// the asked needle sits at the requested depth, the distractors at random depths.
/// </summary>
public sealed class MultikeyTask(int keys = 4) : NeedleTask
{
    public override string Name => "multikey";
    protected override AnswerScoring Scoring => AnswerScoring.ExactNumber;
    public override int AnswerTokens => 14;
    protected override SentenceSource Filler(TaskOptions options) => TextFile(options, Name);

    protected internal override NeedlePrompt Make(Random rng, double depth)
    {
        var names = new HashSet<string>();
        var adjectives = PromptWording.EvaluationKeyAdjectives;
        var nouns = PromptWording.EvaluationKeyNouns;
        while (names.Count < keys) names.Add($"{adjectives[rng.Next(adjectives.Count)]}-{nouns[rng.Next(nouns.Count)]}");
        var values = new HashSet<string>();
        while (values.Count < keys) values.Add(rng.Next(1_000_000, 10_000_000).ToString());
        var k = names.ToArray();
        var v = values.ToArray();
        var form = PromptWording.Keyed.EvaluationForm;
        var needles = Enumerable.Range(0, keys)
            .Select(i => new Needle(form.NeedleFor(k[i], v[i]), i == 0 ? depth : rng.NextDouble()))
            .ToList();
        return new NeedlePrompt(PromptWording.Keyed.EvaluationIntro, needles, form.QuestionFor(k[0]), v[0]);
    }
}
