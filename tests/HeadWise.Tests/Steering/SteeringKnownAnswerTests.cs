using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Steering;
using HeadWise.Tests.Analysis;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Steering;

/// <summary>
/// Issue 19, acceptance 1: each steering method repairs or finds what a constructed model was built to need (the answers
/// hold by construction, see <see cref="SteeringModels"/>); dev and test prompts use different words.
/// </summary>
public class SteeringKnownAnswerTests
{
    private static readonly CharTokenizer Tok = new(words: 40);
    private const int Length = 16;

    private static List<(int[] Prompt, int Answer)> Split(bool midSink, int firstWord) =>
        [.. Enumerable.Range(firstWord, 8).Select(w => (SteeringModels.RetrievalPrompt(Tok, w, 20 + (w % 4), Length, midSink), Tok.Word(w)))];

    private static double Accuracy(Transformer model, List<(int[] Prompt, int Answer)> split, HookSet? hooks) =>
        split.Average(x => SteeringModels.Predict(model, x.Prompt, hooks) == x.Answer ? 1.0 : 0.0);

    [Fact]
    public void ZeroTuning_search_finds_the_head_that_over_attends_the_first_token_and_a_scale_below_one()
    {
        using var model = SteeringModels.SinkRetrieval(Tok, midSink: false);
        var dev = Split(false, 0);
        var test = Split(false, 8);
        Assert.Equal(0, Accuracy(model, test, null)); // the constant '?' wins: the answer head reads 30% from the answer

        var (steering, log) = ZeroTuning.Search(model.Spec, hooks => Accuracy(model, dev, hooks));

        Assert.Equal([SteeringModels.Answer], steering.Heads);
        Assert.InRange(steering.Scale, 0.01, 0.99);
        // The decoy alone at the probe answers its own word: no gain, so it is not kept.
        Assert.Equal(0, log.Profile.Single(p => p.Head == SteeringModels.Decoy).Down);
        Assert.Equal(1, Accuracy(model, test, new HookSet().Add(steering)));
        // Scaling the decoy too breaks it again (the decoy then outbids the answer): the head choice matters.
        Assert.Equal(0, Accuracy(model, test, new HookSet().Add(new ZeroTuning([SteeringModels.Answer, SteeringModels.Decoy], steering.Scale))));
    }

    [Fact]
    public void ACT_detector_finds_the_meaningless_token_that_takes_most_attention()
    {
        using var model = SteeringModels.SinkRetrieval(Tok, midSink: true);
        var prompt = SteeringModels.RetrievalPrompt(Tok, 5, 20, Length, midSink: true);
        var pattern = Pattern(model, prompt, null);
        var sinks = AttentionCalibration.Sinks(pattern, AttentionCalibration.PaperThreshold)[0, 0];
        var found = Enumerable.Range(0, prompt.Length).Where(j => sinks[j].item<bool>()).ToArray();
        Assert.Equal([SteeringModels.SinkPosition], found);
        Assert.True(pattern[0, 0, -1, SteeringModels.SinkPosition].item<float>() > 0.6f);
    }

    [Fact]
    public void ACT_calibrates_only_the_heads_where_calibration_helps_and_lowers_the_sink_there()
    {
        using var model = SteeringModels.SinkRetrieval(Tok, midSink: true);
        var dev = Split(true, 0);
        var test = Split(true, 8);
        Assert.Equal(0, Accuracy(model, test, null));

        var (steering, gains, _) = AttentionCalibration.Search(model.Spec, hooks => Accuracy(model, dev, hooks));

        Assert.Equal([SteeringModels.Answer], steering.Heads);
        Assert.Equal(0, gains.Single(g => g.Head == SteeringModels.Decoy).Gain);
        var hooks = new HookSet().Add(steering);
        Assert.Equal(1, Accuracy(model, test, hooks));
        var prompt = test[0].Prompt;
        float before = Pattern(model, prompt, null)[0, 0, -1, SteeringModels.SinkPosition].item<float>();
        float after = Pattern(model, prompt, hooks)[0, 0, -1, SteeringModels.SinkPosition].item<float>();
        Assert.Equal(before * AttentionCalibration.PaperBeta, after, 1e-4);
        Assert.Equal(1f, Pattern(model, prompt, hooks)[0, 0, -1].sum().item<float>(), 1e-5);
    }

    [Fact]
    public void Soft_injection_from_few_shot_prompts_recovers_the_few_shot_answer_zero_shot()
    {
        var tok = new CharTokenizer(words: 1);
        using var model = SteeringModels.Task(tok, context: 32);
        var rng = new Random(3);
        string letters = SteeringModels.Letters[..^1];
        var fewShot = Enumerable.Range(0, 20).Select(_ => SteeringModels.TaskPrompt(tok,
            Enumerable.Range(0, 3).Select(_ => letters[rng.Next(letters.Length)]), letters[rng.Next(letters.Length)])).ToList();
        var train = letters[..12].Select(c => (SteeringModels.TaskPrompt(tok, [], c), SteeringModels.Id(tok, SteeringModels.Next(c)))).ToList();
        var heldOut = letters[12..];

        var embedding = SoftInjection.TaskEmbedding(model, fewShot);
        var injection = SoftInjection.Learn(model, embedding, train);

        Assert.True(injection.Alpha[0][SteeringModels.TaskHead.Head] > 0.5, $"task head weight {injection.Alpha[0][SteeringModels.TaskHead.Head]}");
        Assert.True(injection.Alpha[0][SteeringModels.LocalHead.Head] < 0.1, $"previous-token head weight {injection.Alpha[0][SteeringModels.LocalHead.Head]}");
        var hooks = new HookSet().Add(injection);
        foreach (char c in heldOut)
        {
            var zeroShot = SteeringModels.TaskPrompt(tok, [], c);
            int fewShotAnswer = SteeringModels.Predict(model, SteeringModels.TaskPrompt(tok, "bdf", c));
            Assert.Equal(SteeringModels.Id(tok, SteeringModels.Next(c)), fewShotAnswer);
            Assert.Equal(SteeringModels.Id(tok, SteeringModels.Wrong), SteeringModels.Predict(model, zeroShot));
            Assert.Equal(fewShotAnswer, SteeringModels.Predict(model, zeroShot, hooks));
        }

        // Saved and reloaded, the injection answers the same.
        var path = Path.Combine(Path.GetTempPath(), $"hw-inject-{Environment.ProcessId}.json");
        try
        {
            SteeringFile.Save(path, injection, model.Spec);
            var reloaded = new HookSet().Add(SteeringFile.Load(path, model.Spec));
            foreach (char c in heldOut)
                Assert.Equal(SteeringModels.Id(tok, SteeringModels.Next(c)), SteeringModels.Predict(model, SteeringModels.TaskPrompt(tok, [], c), reloaded));
        }
        finally { File.Delete(path); }
    }

    /// <summary>Layer 0's pattern of the answer head [1, 1, T, T] (after any steering on it).</summary>
    private static Tensor Pattern(Transformer model, int[] prompt, HookSet? steering)
    {
        Tensor? captured = null;
        var hooks = (steering ?? new HookSet()).Copy();
        hooks.AddForHeads(HookNames.ForLayer(0).Pattern, [SteeringModels.Answer.Head], p => { captured = p.detach().clone().DetachFromDisposeScope(); return p; });
        using (torch.no_grad()) model.Forward(torch.tensor(prompt.Select(x => (long)x).ToArray(), [1, prompt.Length]), null, hooks).Dispose();
        return captured!;
    }
}
