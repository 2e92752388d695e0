using HeadWise.Prompts;

namespace HeadWise.Eval.Tasks;

/// <summary>`passkey`: a five-digit pass key in repetitive filler (Mohtashami and Jaggi's landmark-attention test).</summary>
public sealed class PasskeyTask : NeedleTask
{
    private static readonly SentenceSource Grass = new(PromptWording.PasskeyFiller);

    public override string Name => "passkey";
    protected override AnswerScoring Scoring => AnswerScoring.ExactNumber;
    public override int AnswerTokens => 10;
    protected override SentenceSource Filler(TaskOptions options) => Grass;

    protected internal override NeedlePrompt Make(Random rng, double depth)
    {
        var key = rng.Next(10000, 100000).ToString();
        var form = PromptWording.Passkey.EvaluationForm;
        return new NeedlePrompt(PromptWording.Passkey.EvaluationIntro, [new Needle(form.NeedleFor("", key), depth)], form.QuestionFor(""), key);
    }
}
