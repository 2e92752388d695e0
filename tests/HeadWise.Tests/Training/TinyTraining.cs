using HeadWise.Training;

namespace HeadWise.Tests.Training;

/// <summary>A seconds-long training setup: 2 layers, dim 32, on the first 150,000 characters of Moby-Dick.</summary>
internal static class TinyTraining
{
    private static readonly Lazy<string> TextFile = new(() =>
    {
        var path = Path.Combine(TestPaths.NewTempDir("hw-train-text"), "moby-head.txt");
        File.WriteAllText(path, File.ReadAllText(TestPaths.MobyDick)[..150_000]);
        return path;
    });

    public static TrainConfig Config(int steps = 20) => new()
    {
        Name = "tiny",
        Seed = 7,
        Layers = 2, Dim = 32, Heads = 2, FfnDim = 64, Context = 128,
        VocabSize = 300, TokenizerTrainChars = 50_000,
        Data = [TextFile.Value],
        HeldOutFraction = 0.05,
        Steps = steps,
        Curriculum = [new() { FromStep = 0, SeqLen = 64, Batch = 4 }, new() { FromStep = 10, SeqLen = 128, Batch = 2 }],
        LearningRate = 0.01, MinLearningRate = 0.001, WarmupSteps = 3,
        CheckpointEvery = 5,
    };

    /// <summary>A trained tiny model with its exports, made once per test run.</summary>
    public static readonly Lazy<string> TrainedDir = new(() =>
    {
        var dir = TestPaths.NewTempDir("hw-train");
        TrainingRun.Run(Config(), dir);
        return dir;
    });
}
