using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in TaskRegistry and CopyTask.Name): every task reports the name it is registered
/// under (results and errors of copy-shuffled say copy-shuffled), and an unknown name lists the known ones, comma
/// separated, in registration order.
/// </summary>
public class TaskRegistryNamesTests
{
    [Fact]
    public void Each_task_is_named_as_registered_and_an_unknown_one_lists_them()
    {
        string[] known = ["copy", "copy-shuffled", "passkey", "niah", "multikey", "perplexity"];
        Assert.Equal(known, TaskRegistry.Names);
        foreach (var name in known) Assert.Equal(name, TaskRegistry.Create(name).Name);
        var e = Assert.Throws<HeadWiseException>(() => TaskRegistry.Create("needle"));
        Assert.Equal("unknown task 'needle'; known tasks: copy, copy-shuffled, passkey, niah, multikey, perplexity", e.Message);
    }
}
