"""The ``spasim`` pytest plugin, exercised the way a user's suite uses it (``pytester``).

The inner test files below are what someone writing an ESPHome bridge or a bench test
would write: they rely only on the plugin being installed (entry point ``pytest11``).
"""

from __future__ import annotations

import pytest

# Loaded once here: numpy cannot be imported twice per process, and pytester's in-process
# runs unload whatever the inner session imported.
import spasim.board  # noqa: F401

pytest_plugins = ["pytester"]


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(source)
    # textual-snapshot keeps session state that an in-process inner run would clobber.
    return pytester.runpytest(
        "-p", "no:cacheprovider", "-p", "no:textual-snapshot", "--strict-markers", *args
    )


def test_virtual_box_reports_temperature_on_simulated_time(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        from protocols.mspa import Command, FrameDecoder

        @pytest.mark.spasim(water_c=30.0)
        def test_reports(virtual_box):
            decoder = FrameDecoder()
            frames = []
            virtual_box.port.on_receive = lambda data: frames.extend(decoder.feed(data))
            virtual_box.advance(30.0)
            temps = [f.parameter / 2 for f in frames if f.command == Command.WATER_TEMP]
            assert temps, frames
            assert all(abs(t - 30.0) <= 0.5 for t in temps)
            assert virtual_box.now() == 30.0
        """,
    )
    result.assert_outcomes(passed=1)


def test_virtual_box_with_remote_logs_both_directions(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.spasim(profile="elite-6", remote=True)
        def test_remote(virtual_box):
            assert virtual_box.remote is not None
            assert virtual_box.wait_until(lambda: virtual_box.remote.duty.handshake_done, 30)
            virtual_box.remote.set(filter=True)
            virtual_box.advance(10)
            senders = {sender for _, sender, _ in virtual_box.frames}
            assert senders == {"box", "remote"}
            assert virtual_box.remote.duty.uvc_command == 0x10  # elite-6 is variant B
        """,
    )
    result.assert_outcomes(passed=1)


def test_virtual_box_faults_from_marker_and_indirect_params(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest
        from protocols.mspa import Command, FrameDecoder

        def temperatures(rig, seconds):
            decoder = FrameDecoder()
            frames = []
            rig.port.on_receive = lambda data: frames.extend(decoder.feed(data))
            rig.advance(seconds)
            return {f.parameter / 2 for f in frames if f.command == Command.WATER_TEMP}

        @pytest.mark.spasim(faults=["temp-sensor-open"])
        def test_marker(virtual_box):
            assert temperatures(virtual_box, 20) == {0.0}

        @pytest.mark.spasim(faults=["temp-sensor-open"])
        @pytest.mark.parametrize(
            "virtual_box", [{"faults": ["temp-sensor-short"]}], indirect=True
        )
        def test_param_wins(virtual_box):
            assert temperatures(virtual_box, 20) == {127.5}
        """,
    )
    result.assert_outcomes(passed=2)


def test_unknown_options_are_refused(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        @pytest.mark.spasim(colour="blue")
        def test_box(virtual_box):
            pass
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*does not know option(s) colour*"])


def test_served_remote_over_a_pty(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import time
        import pytest
        import serial
        from protocols.mspa import Command, Frame, FrameDecoder

        @pytest.mark.spasim(role="remote", speed=20, verbose=True)
        def test_remote(served_box):
            assert served_box.url.startswith("/dev/")
            port = serial.serial_for_url(served_box.url, baudrate=9600, timeout=0.05)
            try:
                port.write(bytes(Frame(Command.BOOT_07, 0x0C)))
                decoder = FrameDecoder()
                frames = []
                deadline = time.monotonic() + 10
                while len(frames) < 2 and time.monotonic() < deadline:
                    frames += decoder.feed(port.read(16))
            finally:
                port.close()
            assert frames[:2] == [Frame(Command.KEEPALIVE, 0), Frame(Command.HANDSHAKE, 0)]
            assert served_box.process.poll() is None
        """,
    )
    result.assert_outcomes(passed=1)


def test_served_box_over_tcp_reports_temperature(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import time
        import pytest
        import serial
        from protocols.mspa import Command, FrameDecoder

        @pytest.mark.spasim(transport="tcp", speed=20, water_c=25.0)
        def test_box(served_box):
            assert served_box.url.startswith("socket://127.0.0.1:")
            port = serial.serial_for_url(served_box.url, timeout=0.05)
            try:
                decoder = FrameDecoder()
                temps = []
                deadline = time.monotonic() + 10
                while len(temps) < 3 and time.monotonic() < deadline:
                    for frame in decoder.feed(port.read(64)):
                        if frame.command == Command.WATER_TEMP:
                            temps.append(frame.parameter / 2)
            finally:
                port.close()
            assert len(temps) >= 3 and all(abs(t - 25.0) <= 0.5 for t in temps)
        """,
    )
    result.assert_outcomes(passed=1)


def test_served_box_is_stopped_after_the_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        PROCESSES = []

        @pytest.mark.spasim(role="remote", transport="tcp", speed=20)
        def test_one(served_box):
            PROCESSES.append(served_box.process)

        def test_two():
            assert PROCESSES[0].poll() == 0, "SIGTERM'd and exited 0 after test_one"
        """,
    )
    result.assert_outcomes(passed=2)
