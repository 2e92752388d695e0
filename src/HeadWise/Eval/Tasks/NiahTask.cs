using HeadWise.Prompts;

namespace HeadWise.Eval.Tasks;

/// <summary>`niah`: one fact sentence in natural text (Kamradt's needle in a haystack), scored by ROUGE-1 recall.</summary>
public sealed class NiahTask : NeedleTask
{
    public override string Name => "niah";
    protected override AnswerScoring Scoring => AnswerScoring.RougeRecall;
    public override int AnswerTokens => 32;
    protected override SentenceSource Filler(TaskOptions options) => TextFile(options, Name);

    protected internal override NeedlePrompt Make(Random rng, double depth)
    {
        var (place, activity) = PromptWording.EvaluationFacts[rng.Next(PromptWording.EvaluationFacts.Count)];
        var form = PromptWording.Fact.EvaluationForm;
        return new NeedlePrompt(PromptWording.Fact.EvaluationIntro, [new Needle(form.NeedleFor(place, activity), depth)], form.QuestionFor(place), activity);
    }
}
