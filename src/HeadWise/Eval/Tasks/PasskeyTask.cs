namespace HeadWise.Eval.Tasks;

/// <summary>`passkey`: a five-digit pass key in repetitive filler (Mohtashami and Jaggi's landmark-attention test).</summary>
public sealed class PasskeyTask : NeedleTask
{
    private static readonly SentenceSource Grass = new(
        ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."]);

    public override string Name => "passkey";
    protected override AnswerScoring Scoring => AnswerScoring.ExactNumber;
    public override int AnswerTokens => 10;
    protected override SentenceSource Filler(TaskOptions options) => Grass;

    protected override NeedlePrompt Make(Random rng, double depth)
    {
        var key = rng.Next(10000, 100000).ToString();
        return new NeedlePrompt(
            "There is a pass key hidden in this text. Find it and remember it.",
            [new Needle($"The pass key is {key}. Remember it.", depth)],
            "What is the pass key? The pass key is", key);
    }
}
