using HeadWise.Training;

namespace HeadWise.Tests.Training;

/// <summary>Acceptance 4: a run stopped at a checkpoint and resumed gives the uninterrupted run's loss curve.</summary>
public class ResumeTests
{
    [Fact]
    public void Resuming_at_step_10_reproduces_the_uninterrupted_loss_curve()
    {
        var config = TinyTraining.Config(steps: 20);
        var whole = TestPaths.NewTempDir();
        double[] expected;
        using (var t = new Trainer(config, whole)) { t.Run(); expected = t.Log.Steps.Select(s => s.Loss).ToArray(); }

        var split = TestPaths.NewTempDir();
        using (var first = new Trainer(config, split)) { first.Run(stopAtStep: 10); Assert.Equal(10, first.Step); }
        double[] actual;
        using (var second = new Trainer(config, split))
        {
            Assert.Equal(10, second.Step);   // picked up the checkpoint
            second.Run();
            actual = second.Log.Steps.Select(s => s.Loss).ToArray();
        }
        Assert.Equal(20, expected.Length);
        Assert.Equal(20, actual.Length);
        // The loss must actually move, or equal curves would prove nothing.
        Assert.True(expected[0] - expected[^1] > 0.3, $"loss went from {expected[0]} to {expected[^1]}");
        for (int i = 0; i < 20; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-6, $"step {i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void Resuming_with_another_runs_optimizer_state_breaks_the_curve_so_the_check_above_can_fail()
    {
        // The check above compares curves to 1e-6. Resume the same checkpoint with the AdamW moments of another run
        // (a run stopped at step 2, same shapes) and the curve must leave the uninterrupted one after the first
        // update, by far more than that tolerance: a resume that dropped or mixed up optimizer state would be caught.
        var config = TinyTraining.Config(steps: 20);
        double[] expected;
        using (var t = new Trainer(config, TestPaths.NewTempDir())) { t.Run(); expected = t.Log.Steps.Select(s => s.Loss).ToArray(); }
        var split = TestPaths.NewTempDir();
        using (var first = new Trainer(config, split)) first.Run(stopAtStep: 10);
        var other = TestPaths.NewTempDir();
        using (var early = new Trainer(config, other)) early.Run(stopAtStep: 2);
        File.Copy(Path.Combine(other, "checkpoint", "optimizer.bin"), Path.Combine(split, "checkpoint", "optimizer.bin"), overwrite: true);
        double[] actual;
        using (var resumed = new Trainer(config, split)) { resumed.Run(); actual = resumed.Log.Steps.Select(s => s.Loss).ToArray(); }
        Assert.Equal(20, actual.Length);
        Assert.True(Math.Abs(expected[10] - actual[10]) <= 1e-6);  // same weights and batch: the loss before the first update
        double drift = Enumerable.Range(11, 9).Max(i => Math.Abs(expected[i] - actual[i]));
        Assert.True(drift > 1e-4, $"largest difference after step 10 is {drift}");
    }

    [Fact]
    public void Resuming_with_a_different_config_is_an_error()
    {
        var dir = TestPaths.NewTempDir();
        using (var t = new Trainer(TinyTraining.Config(), dir)) t.Run(stopAtStep: 5);
        var e = Assert.Throws<HeadWiseException>(() => new Trainer(TinyTraining.Config() with { LearningRate = 0.02 }, dir));
        Assert.Contains("different config", e.Message);
    }
}

public class InitFromTests
{
    [Fact]
    public void Init_from_starts_at_step_0_from_the_checkpoint_weights()
    {
        var first = TestPaths.NewTempDir();
        float[] trained;
        using (var t = new Trainer(TinyTraining.Config(), first))
        {
            t.Run(stopAtStep: 5);
            trained = t.Weights.Layers[1].Wq.detach().data<float>().ToArray();
        }
        var config = TinyTraining.Config() with { InitFrom = Path.Combine(first, "checkpoint"), Seed = 99 };
        using var second = new Trainer(config, TestPaths.NewTempDir());
        Assert.Equal(0, second.Step);
        Assert.Equal(trained, second.Weights.Layers[1].Wq.detach().data<float>().ToArray());
        using var fresh = new Trainer(TinyTraining.Config() with { Seed = 99 }, TestPaths.NewTempDir());
        Assert.NotEqual(trained, fresh.Weights.Layers[1].Wq.detach().data<float>().ToArray());

        var e = Assert.Throws<HeadWiseException>(() => new Trainer(TinyTraining.Config() with { InitFrom = first }, TestPaths.NewTempDir()));
        Assert.Contains("not a checkpoint folder", e.Message);
    }
}
