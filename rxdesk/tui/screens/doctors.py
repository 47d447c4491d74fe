"""Section 3: doctors, their availability, slot preview, troubleshooter and phone number."""

from __future__ import annotations

from rxdesk.tui.screens.placeholder import PlaceholderDetail, PlaceholderSection


class DoctorsScreen(PlaceholderSection):
    SECTION = "doctors"
    WHAT = "The doctors section"


class DoctorDetailScreen(PlaceholderDetail):
    SECTION = "doctors"
    WHAT = "The doctor detail"

    def __init__(self, doctor_id: str) -> None:
        super().__init__()
        self.doctor_id = doctor_id
